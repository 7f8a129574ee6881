import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseValidatedYaml } from '../harness/config/validated-yaml.ts';

export interface Recipe {
  name: string;
  suite: string;
  architecture: string;
  packages: string[];
  dpkgExclude: string[];
  dpkgInclude: string[];
  trimModules: string[];
  trimFiles: string[];
  services: { enable: string[]; mask: string[] };
  kernelCmdline: string;
  machine: string;
  slug: string;
  partitions: { boot: number; root: number; state: number; data: number };
}

const stringList = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'suite', 'architecture', 'packages', 'services', 'kernelCmdline', 'machine', 'slug', 'partitions'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9-]+$' },
    suite: { type: 'string' },
    architecture: { enum: ['amd64'] },
    packages: stringList,
    dpkgExclude: stringList,
    dpkgInclude: stringList,
    trimModules: stringList,
    trimFiles: stringList,
    services: {
      type: 'object',
      additionalProperties: false,
      properties: { enable: stringList, mask: stringList },
    },
    kernelCmdline: { type: 'string' },
    machine: { type: 'string' },
    slug: { type: 'string' },
    partitions: {
      type: 'object',
      additionalProperties: false,
      required: ['boot', 'root', 'state', 'data'],
      properties: {
        boot: { type: 'integer', minimum: 33 },
        root: { type: 'integer', minimum: 256 },
        state: { type: 'integer', minimum: 16 },
        data: { type: 'integer', minimum: 256 },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, verbose: true }).compile(schema);

export const recipeDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recipe');

/** The recipe with its overlay trees, validated; errors name file, line and field. */
export async function loadRecipe(dir = recipeDir): Promise<{ recipe: Recipe; dir: string; text: string }> {
  const file = path.join(dir, 'recipe.yaml');
  const text = await readFile(file, 'utf8');
  type Raw = Omit<Recipe, 'dpkgExclude' | 'dpkgInclude' | 'trimModules' | 'trimFiles' | 'services'> &
    Partial<Pick<Recipe, 'dpkgExclude' | 'dpkgInclude' | 'trimModules' | 'trimFiles'>> & {
      services: Partial<Recipe['services']>;
    };
  const raw = parseValidatedYaml<Raw>(text, path.relative(process.cwd(), file) || file, validate, 'recipe');
  const recipe: Recipe = {
    dpkgExclude: [],
    dpkgInclude: [],
    trimModules: [],
    trimFiles: [],
    ...raw,
    services: { enable: raw.services.enable ?? [], mask: raw.services.mask ?? [] },
  };
  return { recipe, dir, text };
}
