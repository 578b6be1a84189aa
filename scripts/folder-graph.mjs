// Prints the folder-level import graph of src/ (or the folder given) with edge counts, then any
// layering rule it breaks: `node scripts/folder-graph.mjs [dir]`. The graph and the rules are
// test/architecture/folder-graph.ts, the same code the layering test runs.
import { register } from 'tsx/esm/api';

register();
const { folderEdges, formatGraph, layeringViolations } = await import('../test/architecture/folder-graph.ts');
const edges = folderEdges(process.argv[2] ?? 'src');
console.log(formatGraph(edges));
const problems = layeringViolations(edges);
if (problems.length > 0)
  console.log(`\n${problems.length} layering violation(s):\n- ${problems.join('\n- ')}`);
