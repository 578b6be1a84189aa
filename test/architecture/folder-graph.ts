// The folder-level import graph of src/ and the layering rules it must keep (docs/ARCHITECTURE.md,
// issue 17). A relative import, re-export, `import type` or dynamic `import()` in a non-test source
// file is one edge from its top-level folder to the target's; a root file (errors.ts, config.ts)
// is a node of its own. `node scripts/folder-graph.mjs [src]` prints the graph.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Folders of src/ from the top of the data path to the bottom: a node may import only nodes
 * after it. The one table of ranks (LAYERS.md of session 8).
 */
export const RANKS: readonly string[] = [
  'cli',
  'compose',
  'http',
  'config',
  'client',
  'queue',
  'render',
  'relay',
  'models',
  'runner',
  'output',
  'engine',
  'runtime',
  'api',
  'errors',
];

/** Nodes held to a closed list of imports, whatever sits below them. */
export const ONLY_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  engine: ['runtime', 'errors'],
  api: ['errors'],
  client: ['api'],
};

export interface Edge {
  from: string;
  to: string;
  /** src-relative file that holds the import, and the specifier as written. */
  file: string;
  specifier: string;
}

const CODE = /\.(ts|mts|mjs)$/;

export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (CODE.test(name) && !/\.test\.[mc]?ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(root);
  return out;
}

/**
 * Module specifiers of every import and re-export in a source text: `import x from`, `import type`,
 * `export ... from`, side-effect `import '...'` and `import('...')` with a literal argument.
 * Comments, template literals and regular expressions are skipped, so text in them never counts.
 */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  // Significant tokens so far: a word, a punctuator, or a string literal's value (as {str}).
  const recent: Array<string | { str: string }> = [];
  const push = (t: string | { str: string }) => {
    recent.push(t);
    if (recent.length > 4) recent.shift();
  };
  const at = (k: number) => recent[recent.length - k];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      while (i < n && source[i] !== '\n') i++;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < n && source[j] !== c && source[j] !== '\n') {
        if (source[j] === '\\') j++;
        else value += source[j];
        j++;
      }
      i = j + 1;
      const prev = at(1);
      const beforePrev = at(2);
      // `from '...'`, `import '...'`, `import('...')` (the literal must be the whole argument).
      if (prev === 'from' || prev === 'import') found.push(value);
      else if (prev === '(' && beforePrev === 'import' && source.slice(i).trimStart().startsWith(')'))
        found.push(value);
      push({ str: value });
    } else if (c === '`') {
      i = skipTemplate(source, i + 1);
      push({ str: '' });
    } else if (c === '/' && startsRegex(at(1))) {
      i = skipRegex(source, i + 1);
      push({ str: '' });
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(source[j])) j++;
      push(source.slice(i, j));
      i = j;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      push(c);
      i++;
    }
  }
  return found;
}

/** A `/` starts a regular expression after a punctuator or keyword, never after a value. */
function startsRegex(prev: string | { str: string } | undefined): boolean {
  if (prev === undefined) return true;
  if (typeof prev !== 'string') return false;
  if (/^[\w$]/.test(prev))
    return ['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'void'].includes(prev);
  return prev !== ')' && prev !== ']' && prev !== '}';
}

function skipRegex(s: string, i: number): number {
  let inClass = false;
  while (i < s.length && s[i] !== '\n') {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) return i + 1;
    i++;
  }
  return i;
}

/** Skips a template literal, nested `${...}` expressions (with their own strings) included. */
function skipTemplate(s: string, i: number): number {
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === '`') return i + 1;
    else if (c === '$' && s[i + 1] === '{') {
      let depth = 1;
      i += 2;
      while (i < s.length && depth > 0) {
        const d = s[i];
        if (d === '{') depth++;
        else if (d === '}') depth--;
        else if (d === '`') {
          i = skipTemplate(s, i + 1);
          continue;
        } else if (d === "'" || d === '"') {
          i++;
          while (i < s.length && s[i] !== d) i += s[i] === '\\' ? 2 : 1;
        }
        i++;
      }
    } else i++;
  }
  return i;
}

/** The node a src-relative path belongs to: its top folder, or a root file's name without extension. */
export function nodeOf(relPath: string): string {
  const parts = relPath.split(/[\\/]/);
  return parts.length === 1 ? parts[0].replace(CODE, '') : parts[0];
}

/** Every relative import of every source file under root that crosses from one node to another. */
export function folderEdges(root: string): Edge[] {
  const abs = resolve(root);
  const edges: Edge[] = [];
  for (const path of sourceFiles(abs)) {
    const file = relative(abs, path);
    for (const specifier of importSpecifiers(readFileSync(path, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = relative(abs, resolve(dirname(path), specifier));
      if (target.startsWith('..')) continue; // outside src/ (none today)
      const from = nodeOf(file);
      const to = nodeOf(target);
      if (from !== to) edges.push({ from, to, file, specifier });
    }
  }
  return edges;
}

/** `from -> to  count` lines, sorted, one per pair of nodes. */
export function formatGraph(edges: readonly Edge[]): string {
  const counts = new Map<string, number>();
  for (const e of edges) counts.set(`${e.from} -> ${e.to}`, (counts.get(`${e.from} -> ${e.to}`) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}  ${v}`)
    .join('\n');
}

/** Cycles between nodes: each strongly connected component of more than one node, sorted. */
export function folderCycles(edges: readonly Edge[]): string[][] {
  const out = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!out.has(e.from)) out.set(e.from, new Set());
    out.get(e.from)?.add(e.to);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...out.keys()].sort()) if (!index.has(v)) visit(v);
  return components.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * Every broken rule, one line each, naming the files that break it: cycles between nodes, a node
 * importing one ranked above it, engine/ or api/ importing outside their closed lists, and nodes
 * the rank table does not know.
 */
export function layeringViolations(
  edges: readonly Edge[],
  ranks: readonly string[] = RANKS,
  only: Readonly<Record<string, readonly string[]>> = ONLY_IMPORTS,
): string[] {
  const problems: string[] = [];
  const byPair = new Map<string, Edge[]>();
  for (const e of edges) {
    const k = `${e.from} -> ${e.to}`;
    byPair.set(k, [...(byPair.get(k) ?? []), e]);
  }
  const where = (from: string, to: string) =>
    [...new Set((byPair.get(`${from} -> ${to}`) ?? []).map((e) => `${e.file} ('${e.specifier}')`))].join(
      ', ',
    );
  for (const component of folderCycles(edges)) {
    const inside = new Set(component);
    const links = [...byPair.keys()]
      .map((k) => k.split(' -> '))
      .filter(([a, b]) => inside.has(a) && inside.has(b))
      .map(([a, b]) => `${a} -> ${b}: ${where(a, b)}`);
    problems.push(`cycle between ${component.join(', ')}:\n    ${links.join('\n    ')}`);
  }
  const unknown = [...new Set(edges.flatMap((e) => [e.from, e.to]))].filter((v) => !ranks.includes(v)).sort();
  for (const v of unknown) problems.push(`${v} is in no rank of the layering table; place it there`);
  for (const pair of [...byPair.keys()].sort()) {
    const [from, to] = pair.split(' -> ');
    const closed = only[from];
    if (closed && !closed.includes(to)) {
      problems.push(`${from} may import only ${closed.join(' and ')}, but imports ${to}: ${where(from, to)}`);
    } else if (ranks.includes(from) && ranks.includes(to) && ranks.indexOf(to) < ranks.indexOf(from)) {
      problems.push(`${from} imports ${to}, which sits above it: ${where(from, to)}`);
    }
  }
  return problems;
}
