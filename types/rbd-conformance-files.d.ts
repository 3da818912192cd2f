/** The kernel test files the page runs as its conformance suite (web/site.ts generates the list). */
declare module 'rbd:conformance-files' {
  const files: import('../conformance/suite.ts').ConformanceFile[];
  export default files;
}
