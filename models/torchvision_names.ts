/**
 * torchvision ResNet state_dict names -> the method's names (models/resnet.ts), so a teacher
 * trained elsewhere (torchvision.models.resnet18 with its fc replaced, with BatchNorm or with
 * norm_layer=GroupNorm) loads as is. The layers are the same (7x7/2 stem, 3x3/2 max-pool,
 * BasicBlocks with a 1x1 strided downsample); only the names differ:
 *
 *   conv1.*                      conv_1.*
 *   bn1.*                        norm_1.*
 *   layerS.B.conv1/conv2.*       layer_S.B.conv_1/conv_2.*
 *   layerS.B.bn1/bn2.*           layer_S.B.norm_1/norm_2.*
 *   layerS.B.downsample.0/1.*    layer_S.B.downsample.0/1.*   (conv, norm)
 *   fc.*                         fc.*
 *
 * A `module.` prefix (nn.DataParallel) is dropped. Bottleneck ResNets (50 and up: conv3/bn3)
 * have other blocks and are refused by name.
 */

export type Naming = 'method' | 'torchvision';

const RULES: [RegExp, string][] = [
  [/^conv1\./, 'conv_1.'],
  [/^bn1\./, 'norm_1.'],
  [/^layer(\d+)\.(\d+)\.conv([12])\./, 'layer_$1.$2.conv_$3.'],
  [/^layer(\d+)\.(\d+)\.bn([12])\./, 'layer_$1.$2.norm_$3.'],
  [/^layer(\d+)\.(\d+)\.downsample\.([01])\./, 'layer_$1.$2.downsample.$3.'],
];

/** Which naming a set of tensor names uses. */
export function detectNaming(names: Iterable<string>): Naming {
  for (const n of names) if (/^(module\.)?(conv1\.|bn1\.|layer\d+\.\d+\.(conv|bn)\d\.)/.test(n)) return 'torchvision';
  return 'method';
}

/**
 * The method's name for each name (a Map old -> new). Names of the method pass through; a
 * Bottleneck tensor is an error naming it.
 */
export function methodNames(names: Iterable<string>, file: string): Map<string, string> {
  const out = new Map<string, string>();
  const all = [...names];
  const torchvision = detectNaming(all) === 'torchvision';
  for (const name of all) {
    let n = name.replace(/^module\./, '');
    if (torchvision) {
      if (/^layer\d+\.\d+\.(conv3|bn3)\./.test(n)) {
        throw new Error(
          `${file}: '${name}' belongs to a Bottleneck block (torchvision ResNet-50 and larger); only BasicBlock ResNets (ResNet-18/34 layout) are supported`,
        );
      }
      for (const [re, to] of RULES) {
        if (re.test(n)) {
          n = n.replace(re, to);
          break;
        }
      }
    }
    out.set(name, n);
  }
  return out;
}
