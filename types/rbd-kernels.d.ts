/** The WGSL files of kernels/, bundled by scripts/build-web.mjs: path relative to kernels/ -> text. */
declare module 'rbd:kernels' {
  const kernels: Record<string, string>;
  export default kernels;
}
