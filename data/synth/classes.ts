/**
 * The synthetic class sets. Each class is an architecture (how glands, walls, papillae, sheets
 * are laid out: visible at low magnification) plus a nuclear phenotype (size, shape, atypia,
 * chromatin: visible only at high magnification). Lengths are in microns, so a tile renders
 * the same tissue at any microns-per-pixel.
 *
 * The nuclear phenotypes are chosen so that, for every class, the nuclei cover the same
 * fraction of the epithelium (see `NUCLEAR_COVER` in render.ts): nuclear detail then changes
 * texture, not mean colour, and averages away when the tile is area-downsampled.
 */

/** Tissue architectures, each a rule on cellular distances (see render.ts `tissueOf`). */
export type Architecture = 'glands' | 'walls' | 'fronds' | 'tufts' | 'sheet' | 'villi' | 'crypts';

export interface ArchitectureParams {
  pattern: Architecture;
  /** Distance between structure centres. */
  spacing: number;
  /** Lumen radius (glands, crypts), tuft radius (tufts), stroma core half-width (walls, fronds, villi, sheet septa). */
  size: number;
  /** Thickness of the epithelial lining around a lumen or core. */
  lining: number;
  /** Length of a villus (villi only; fingers end in rounded tips). */
  length: number;
}

export interface NuclearParams {
  /** Mean radius of an epithelial nucleus (geometric mean of its two semi-axes). */
  radius: number;
  /** Ratio of the long to the short semi-axis. */
  aspect: number;
  /** Amplitude of the nuclear outline's irregularity (0 = smooth ellipse). */
  atypia: number;
  /** Amplitude of chromatin texture inside the nucleus (0 = uniform). */
  chromatin: number;
}

export interface ClassSpec { name: string; architecture: ArchitectureParams; nuclei: NuclearParams }

export type ClassSetName = 'luad' | 'cd';

const arch = (pattern: Architecture, spacing: number, size: number, lining: number, length = 0): ArchitectureParams => ({ pattern, spacing, size, lining, length });
const nuc = (radius: number, aspect: number, atypia: number, chromatin: number): NuclearParams => ({ radius, aspect, atypia, chromatin });

/**
 * LUAD-like growth patterns (folder names lower case, sorted, so label i is the i-th folder as
 * ImageFolder orders them).
 */
const LUAD: ClassSpec[] = [
  { name: 'acinar', architecture: arch('glands', 48, 11, 9), nuclei: nuc(3.0, 1.4, 0.1, 0.25) },
  { name: 'lepidic', architecture: arch('walls', 60, 1.5, 3), nuclei: nuc(2.2, 2.0, 0.05, 0.1) },
  { name: 'micropapillary', architecture: arch('tufts', 26, 8, 0), nuclei: nuc(4.2, 1.1, 0.35, 0.7) },
  { name: 'papillary', architecture: arch('fronds', 44, 4, 8), nuclei: nuc(3.5, 1.25, 0.2, 0.45) },
  { name: 'solid', architecture: arch('sheet', 110, 1.5, 0), nuclei: nuc(5.2, 1.1, 0.5, 1.0) },
];

/** Celiac-disease-like biopsy classes. */
const CD: ClassSpec[] = [
  { name: 'abnormal', architecture: arch('villi', 42, 6, 12, 100), nuclei: nuc(3.6, 1.25, 0.3, 0.6) },
  { name: 'normal', architecture: arch('villi', 48, 5, 11, 320), nuclei: nuc(2.3, 2.0, 0.05, 0.1) },
  { name: 'sprue', architecture: arch('crypts', 30, 4, 11), nuclei: nuc(5.0, 1.05, 0.45, 1.0) },
];

export const CLASS_SETS: Record<ClassSetName, ClassSpec[]> = { luad: LUAD, cd: CD };

export function isClassSetName(name: string): name is ClassSetName {
  return Object.hasOwn(CLASS_SETS, name);
}
