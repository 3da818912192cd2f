/** rbd bench report: the Markdown + HTML report from bench speed / profile JSON files (bench/report.ts). */
import { readJson } from '../../../util/files.ts';
import { writeBenchReport, type SpeedJson } from '../../../bench/report.ts';
import type { StepProfile } from '../../../bench/profile.ts';
import { parseFlags, UsageError } from '../../flags.ts';

export const summary = 'Markdown + self-contained HTML report with plots from bench speed / profile JSON files';

export const help = `usage: rbd bench report --out DIR [--speed FILE] [--profile FILE] [--profile-low FILE]

Writes DIR/bench-report.md and DIR/bench-report.html (one self-contained page, plots inline as
SVG; the .svg files are also written for the Markdown): counted FLOPs against magnification,
measured time against FLOPs with the ideal (time proportional to FLOPs) line showing where small
inputs stop scaling, the speed-up against the FLOP ratio with an explanation, and the per-kernel
time breakdown of one training step.

  --out DIR           where to write the report (created if missing)
  --speed FILE        a JSON written by 'rbd bench speed --json FILE'
  --profile FILE      a JSON written by 'rbd profile --json FILE'
  --profile-low FILE  a second profile, the student at a lower magnification (same teacher), with
                      --profile; the report then compares the student's ops between the two
(At least one of --speed and --profile. No --json: the report is the output. 'rbd bench speed
--report DIR' measures and writes all of it in one run.)
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench report';
  const { values } = parseFlags(cmd, argv, {
    out: { type: 'string' },
    speed: { type: 'string' },
    profile: { type: 'string' },
    'profile-low': { type: 'string' },
  });
  if (!values.out) throw new UsageError(cmd, '--out DIR is required');
  if (!values.speed && !values.profile) throw new UsageError(cmd, 'give --speed FILE and/or --profile FILE');
  if (values['profile-low'] && !values.profile) throw new UsageError(cmd, '--profile-low compares with --profile; give both');
  const load = <T>(flag: string, path: string | undefined, field: string): T | undefined => {
    if (!path) return undefined;
    let doc: Record<string, unknown>;
    try {
      doc = readJson<Record<string, unknown>>(path);
    } catch (e) {
      throw new UsageError(cmd, `--${flag} '${path}': ${(e as Error).message}`);
    }
    if (!(field in doc))
      throw new UsageError(
        cmd,
        `--${flag} '${path}' has no '${field}' field; pass a file written by 'rbd ${flag === 'speed' ? 'bench speed' : 'profile'} --json'`,
      );
    return doc as T;
  };
  const files = writeBenchReport(values.out, {
    speed: load<SpeedJson>('speed', values.speed, 'results'),
    profile: load<StepProfile>('profile', values.profile, 'kernels'),
    profileLow: load<StepProfile>('profile-low', values['profile-low'], 'kernels'),
  });
  console.log(`wrote ${files.join(', ')}`);
  return 0;
}
