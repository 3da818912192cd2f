// wgsl_reflect's default Node entry breaks under ESM, so the engine imports its module build,
// which ships no declaration of its own path; re-export the package's own types for it.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
