/**
 * Headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) driven by
 * playwright-core: no browser is downloaded. WebGPU in headless Chromium comes from its
 * SwiftShader adapter (Vulkan on the CPU) once --enable-unsafe-webgpu is given; the page must be
 * a secure context, so it is served from http://localhost.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { env } from '../../util/env.ts';

export const CHROMIUM = env.chromium();

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  // SwiftShader's WebGPU adapter, also where the machine has a GPU, so every run tests the same adapter.
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Launch; `extra` flags are appended (e.g. to disable WebGPU), flags in `without` left out. playwright-core gives every
 * launch a fresh --user-data-dir of its own (a temporary profile it removes on close).
 */
export async function launchChromium(
  extra: string[] = [],
  without: string[] = [],
): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS.filter((f) => !without.includes(f)), ...extra],
  });
  return { browser, close: () => browser.close().catch(() => {}) };
}
