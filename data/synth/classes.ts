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
  /**
   * Share of the epithelium's nuclear cover that belongs to intraepithelial lymphocytes (small,
   * round, evenly dark nuclei among the epithelial ones; render.ts LYMPHOCYTE); 0 = none. The
   * total cover stays NUCLEAR_COVER, so lymphocytes change texture, not mean colour.
   */
  lymphocytes: number;
}

/**
 * Where a class's signal lives, in words for the study report: what tells the class apart at
 * low magnification (tissue architecture, tens to hundreds of microns) and what only at high
 * magnification (nuclei and intraepithelial lymphocytes, 2-6 microns).
 */
export interface ClassSignals {
  architecture: string;
  nuclear: string;
}

export interface ClassSpec {
  name: string;
  architecture: ArchitectureParams;
  nuclei: NuclearParams;
  signals: ClassSignals;
}

export type ClassSetName = 'luad' | 'cd';

const arch = (pattern: Architecture, spacing: number, size: number, lining: number, length = 0): ArchitectureParams => ({
  pattern,
  spacing,
  size,
  lining,
  length,
});
const nuc = (radius: number, aspect: number, atypia: number, chromatin: number, lymphocytes = 0): NuclearParams => ({
  radius,
  aspect,
  atypia,
  chromatin,
  lymphocytes,
});

/**
 * LUAD-like growth patterns (folder names lower case, sorted, so label i is the i-th folder as
 * ImageFolder orders them).
 */
const LUAD: ClassSpec[] = [
  {
    name: 'acinar',
    architecture: arch('glands', 48, 11, 9),
    nuclei: nuc(3.0, 1.4, 0.1, 0.25),
    signals: { architecture: 'round glands with open lumens, about 48 um apart', nuclear: 'mid-size, mildly oval nuclei, little atypia' },
  },
  {
    name: 'lepidic',
    architecture: arch('walls', 60, 1.5, 3),
    nuclei: nuc(2.2, 2.0, 0.05, 0.1),
    signals: { architecture: 'thin alveolar walls lined by one cell layer, mostly air', nuclear: 'small elongated bland nuclei' },
  },
  {
    name: 'micropapillary',
    architecture: arch('tufts', 26, 8, 0),
    nuclei: nuc(4.2, 1.1, 0.35, 0.7),
    signals: {
      architecture: 'small floating tufts of cells without stroma cores',
      nuclear: 'large round atypical nuclei, coarse chromatin',
    },
  },
  {
    name: 'papillary',
    architecture: arch('fronds', 44, 4, 8),
    nuclei: nuc(3.5, 1.25, 0.2, 0.45),
    signals: { architecture: 'fronds with stroma cores', nuclear: 'enlarged nuclei, moderate atypia' },
  },
  {
    name: 'solid',
    architecture: arch('sheet', 110, 1.5, 0),
    nuclei: nuc(5.2, 1.1, 0.5, 1.0),
    signals: { architecture: 'solid sheets of cells, thin septa', nuclear: 'the largest, most atypical nuclei, coarse chromatin' },
  },
];

/**
 * Celiac-disease-like duodenal biopsies, parameters set from the described histology (Marsh-
 * Oberhuber grading) and not tuned to any result:
 * - normal: tall slender villi (villus length several times the crypt depth), columnar
 *   enterocytes with small, elongated, basal nuclei, few intraepithelial lymphocytes (IELs;
 *   under 25 per 100 enterocytes, about 10);
 * - abnormal (Marsh 1-3a: increased IELs, partial villous blunting): villi shortened to about a
 *   third and broadened, enterocytes reactive and less columnar, IELs about 30 per 100;
 * - sprue (Marsh 3c, total villous atrophy): flat mucosa of hyperplastic crypts and no villi,
 *   cuboidal surface enterocytes with enlarged round reactive nuclei, IELs 40-60 per 100.
 * Villus length and crypts are architecture (visible at 1.25x); nuclear shape and IELs are
 * 2-6 micron detail, resolved at 10x and averaged away at 1.25x (8 um per pixel).
 */
const CD: ClassSpec[] = [
  {
    name: 'abnormal',
    architecture: arch('villi', 42, 6, 12, 100),
    nuclei: nuc(2.8, 1.5, 0.1, 0.3, 0.3),
    signals: {
      architecture: 'blunted villi (about 100 um, a third of normal) on a broader base',
      nuclear: 'reactive, less columnar enterocyte nuclei; IELs about 30 per 100 epithelial cells',
    },
  },
  {
    name: 'normal',
    architecture: arch('villi', 48, 5, 11, 320),
    nuclei: nuc(2.3, 2.0, 0.05, 0.1, 0.1),
    signals: {
      architecture: 'tall slender villi (about 320 um)',
      nuclear: 'small elongated basal enterocyte nuclei; few IELs (about 10 per 100)',
    },
  },
  {
    name: 'sprue',
    architecture: arch('crypts', 30, 4, 11),
    nuclei: nuc(3.2, 1.2, 0.15, 0.4, 0.45),
    signals: {
      architecture: 'flat mucosa: no villi, crowded hyperplastic crypts about 30 um apart',
      nuclear: 'cuboidal enterocytes with enlarged round nuclei; many IELs (about 45 per 100)',
    },
  },
];

export const CLASS_SETS: Record<ClassSetName, ClassSpec[]> = { luad: LUAD, cd: CD };

export function isClassSetName(name: string): name is ClassSetName {
  return Object.hasOwn(CLASS_SETS, name);
}
