// Setup-time probe: is there a WebGPU adapter the engine can run its test suite on?
// Exit 0 (and print it) when a core-feature-level adapter exists (a real GPU or Vulkan
// lavapipe); exit 1 otherwise. `--quiet` prints nothing. Plain JS so it runs before any build.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const quiet = process.argv.includes('--quiet');
let found = null;
for (const backend of [null, 'vulkan']) {
  const gpu = create(backend ? [`backend=${backend}`] : []);
  const adapter = await gpu.requestAdapter({ featureLevel: 'core' }).catch(() => null);
  if (adapter) {
    const info = adapter.info;
    found = `${info.description || info.device || info.vendor} (backend ${info.backendType ?? backend ?? 'default'}, core)`;
    break;
  }
}
if (!quiet) console.log(found ? `[setup] WebGPU adapter: ${found}` : '[setup] no WebGPU adapter found');
process.exit(found ? 0 : 1);
