/** rbd info: every adapter found, with what matters for compute, and the one auto would pick. */
import { listAdapters, chooseAdapter, type AdapterEntry } from '../../engine/device.ts';
import { parseFlags } from '../flags.ts';
import { adapterChoice } from '../runtime.ts';

export const help = `usage: rbd info [--adapter auto|vulkan|gl|<name>] [--json]

Lists every WebGPU adapter Dawn finds on this machine (backend, name, feature level, whether it
is a software adapter, optional features, compute limits) and marks the one that would be chosen
for --adapter (default: the --adapter given before the command, else env RBD_ADAPTER, else auto).
  --json     print the same as JSON
`;

const SHOWN_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups', 'core-features-and-limits'];

export async function run(argv: string[]) {
  const { values } = parseFlags('info', argv, { json: { type: 'boolean' } });
  const choice = adapterChoice(values.adapter);
  const all = await listAdapters();
  const chosen = chooseAdapter(all, choice);
  if (values.json) {
    console.log(
      JSON.stringify(
        { choice, chosen: chosen ? key(chosen) : null, adapters: all.map((a) => ({ ...summary(a), chosen: a === chosen })) },
        null,
        2,
      ),
    );
    return chosen ? 0 : 1;
  }
  if (all.length === 0) console.log('no WebGPU adapter found. Run: bash scripts/setup.sh');
  for (const a of all) {
    const s = summary(a);
    console.log(`${a === chosen ? '*' : ' '} ${s.name}`);
    console.log(
      `    backend ${s.backend}, feature level ${s.featureLevel}, ${s.software ? 'software' : 'hardware'}, vendor ${s.vendor || '?'}`,
    );
    console.log(`    features: ${s.features.filter((f) => SHOWN_FEATURES.includes(f)).join(', ') || 'none of interest'}`);
    console.log(
      `    limits: ${Object.entries(s.limits)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  console.log(
    chosen
      ? `\nchosen for --adapter ${choice}: ${chosen.name} (${chosen.backend}, ${chosen.featureLevel})`
      : `\nno adapter matches --adapter ${choice}`,
  );
  return chosen ? 0 : 1;
}

function key(a: AdapterEntry) {
  return `${a.name} (${a.backend}, ${a.featureLevel})`;
}

function summary(a: AdapterEntry) {
  return {
    name: a.name,
    backend: a.backend,
    featureLevel: a.featureLevel,
    software: a.isSoftware,
    vendor: a.vendor,
    features: a.features,
    limits: a.limits,
  };
}
