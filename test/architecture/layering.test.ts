// The folders of src/ keep the data path's order (docs/ARCHITECTURE.md): no import cycle between
// folders, no folder importing one above it, engine/ on runtime/ and errors only, api/ on errors
// only, client/ on api/ only. FOLDER_GRAPH=1 prints the graph with edge counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Edge,
  folderEdges,
  formatGraph,
  importSpecifiers,
  layeringViolations,
  nodeOf,
} from './folder-graph.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

test('src/ keeps its layering: no folder cycle, no upward import, engine/, api/ and client/ within their lists', () => {
  const edges = folderEdges(SRC);
  if (process.env.FOLDER_GRAPH) console.log(formatGraph(edges));
  assert.ok(edges.length > 20, `only ${edges.length} edges between folders: is the scan reading src/?`);
  const problems = layeringViolations(edges);
  assert.deepEqual(problems, [], `layering violations:\n- ${problems.join('\n- ')}`);
});

test('every import form counts; comments, strings, templates and regular expressions do not', () => {
  const source = [
    "import a from './a.ts';",
    "import type { B } from '../b/b.ts';",
    'import {',
    '  c,',
    '  type D,',
    "} from '../c/index.ts';",
    "import './side-effect.ts';",
    "export { e } from '../e.ts';",
    'export * from "../f/f.ts";',
    "export type { G } from '../g/g.ts';",
    "const h = await import('../h/h.ts');",
    "// import z from '../comment.ts';",
    "/* export * from '../block.ts'; */",
    'const s = "import x from \'../in-string.ts\'";',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source under test holds a template literal
    "const t = `${a} import('../in-template.ts') ${`from '../nested.ts'`}`;",
    "const r = /from '..\\/in-regex.ts'/.test(s) ? 1 : 2 / 3;",
    "const late = await import('../late/late.ts');",
    'const dynamic = await import(name);',
    "const notALiteral = await import('../x/' + name);",
  ].join('\n');
  assert.deepEqual(importSpecifiers(source), [
    './a.ts',
    '../b/b.ts',
    '../c/index.ts',
    './side-effect.ts',
    '../e.ts',
    '../f/f.ts',
    '../g/g.ts',
    '../h/h.ts',
    '../late/late.ts',
  ]);
  assert.equal(nodeOf('errors.ts'), 'errors');
  assert.equal(nodeOf('engine/sampling/euler.ts'), 'engine');
});

const edge = (from: string, to: string): Edge => ({
  from,
  to,
  file: `${from}/x.ts`,
  specifier: `../${to}/y.ts`,
});

test('the checker finds a synthetic cycle, an upward import and an import outside a closed list', () => {
  const ranks = ['top', 'middle', 'bottom', 'errors'];
  const only = { bottom: ['errors'] };
  assert.deepEqual(layeringViolations([edge('top', 'middle'), edge('middle', 'bottom')], ranks, only), []);
  const problems = layeringViolations(
    [edge('top', 'middle'), edge('middle', 'top'), edge('bottom', 'middle'), edge('bottom', 'errors')],
    ranks,
    only,
  );
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0], /^cycle between middle, top:/);
  assert.match(problems[0], /middle -> top: middle\/x\.ts \('\.\.\/top\/y\.ts'\)/);
  assert.match(problems[1], /^bottom may import only errors, but imports middle: bottom\/x\.ts/);
  assert.match(problems[2], /^middle imports top, which sits above it: middle\/x\.ts/);
  // A folder missing from the table is named, so a new folder gets a rank.
  assert.deepEqual(layeringViolations([edge('top', 'stray')], ranks, only), [
    'stray is in no rank of the layering table; place it there',
  ]);
});
