// Reading and checking a tokenizer folder (vocab.json, merges.txt, special_tokens_map.json,
// tokenizer_config.json) into plain data. Every failure is a model-load error naming the file.

import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errors } from '../../errors.ts';

export interface TokenizerData {
  vocab: Record<string, number>;
  /** Merge lines "a b", best first; a leading "#version" header line is skipped. */
  merges: string[];
  padToken?: string;
  maxLength?: number;
}

/** Where each part of TokenizerData came from, for error messages. */
export interface DataSources {
  vocab: string;
  merges: string;
  pad: string;
  maxLength: string;
}

export const DEFAULT_MAX_LENGTH = 77;

// transformers writes int(1e30) as model_max_length when a checkpoint sets no limit.
const UNSET_MAX_LENGTH_ABOVE = 1_000_000;

export async function readTokenizerFolder(
  dir: string,
): Promise<{ data: TokenizerData; sources: DataSources }> {
  const label = (file: string) => `${basename(dir)}/${file}`;
  const vocabFile = label('vocab.json');
  const mergesFile = label('merges.txt');
  const specialFile = label('special_tokens_map.json');
  const configFile = label('tokenizer_config.json');

  const [vocabText, mergesText, specialText, configText] = await Promise.all([
    readText(dir, 'vocab.json', vocabFile, true),
    readText(dir, 'merges.txt', mergesFile, true),
    readText(dir, 'special_tokens_map.json', specialFile, false),
    readText(dir, 'tokenizer_config.json', configFile, false),
  ]);

  const vocab = checkVocab(parseJson(vocabText!, vocabFile), vocabFile);
  const special = specialText === undefined ? {} : parseObject(specialText, specialFile);
  const config = configText === undefined ? {} : parseObject(configText, configFile);
  // Newer exports may keep the special tokens in tokenizer_config.json alone. Without either file
  // naming the pad token we refuse to guess: SD 2.x pads with "!", SD 1.x with <|endoftext|>.
  if (specialText === undefined && config.pad_token === undefined) {
    throw errors.modelLoad(`${specialFile}: file not found (and tokenizer_config.json names no pad_token)`);
  }

  // As in transformers, special_tokens_map.json overrides tokenizer_config.json.
  const padFromSpecial = tokenContent(special.pad_token, specialFile);
  const padFromConfig = tokenContent(config.pad_token, configFile);
  const data: TokenizerData = {
    vocab,
    merges: mergesText!.split('\n'),
    padToken: padFromSpecial ?? padFromConfig,
    maxLength: maxLengthFrom(config.model_max_length, configFile),
  };
  const pad =
    padFromSpecial !== undefined ? specialFile : padFromConfig !== undefined ? configFile : vocabFile;
  return { data, sources: { vocab: vocabFile, merges: mergesFile, pad, maxLength: configFile } };
}

async function readText(
  dir: string,
  name: string,
  label: string,
  required: boolean,
): Promise<string | undefined> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    if (code === 'ENOENT') throw errors.modelLoad(`${label}: file not found`, e);
    throw errors.modelLoad(`${label}: cannot be read (${code ?? String(e)})`, e);
  }
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.modelLoad(`${label}: not valid JSON (${(e as Error).message})`, e);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseObject(text: string, label: string): Record<string, unknown> {
  const value = parseJson(text, label);
  if (!isObject(value)) throw errors.modelLoad(`${label}: expected a JSON object`);
  return value;
}

export function checkVocab(value: unknown, label: string): Record<string, number> {
  if (!isObject(value)) throw errors.modelLoad(`${label}: expected an object mapping tokens to ids`);
  // for-in rather than Object.entries: no 49408 pair arrays on the load path.
  for (const token in value) {
    const id = value[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw errors.modelLoad(`${label}: id of ${JSON.stringify(token)} is not a non-negative integer`);
  }
  return value as Record<string, number>;
}

/** A special token is written either as its string or as an AddedToken object with `content`. */
function tokenContent(value: unknown, label: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  throw errors.modelLoad(`${label}: pad_token must be a string or an object with a string "content"`);
}

function maxLengthFrom(value: unknown, label: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2)
    throw errors.modelLoad(`${label}: model_max_length must be an integer of at least 2`);
  return value > UNSET_MAX_LENGTH_ABOVE ? undefined : value;
}
