/**
 * Checks of the YAML tree itself, before any value is read: nesting depth, the size aliases
 * expand to (an alias bomb), and merge keys (`<<`), which YAML 1.2 does not define and which
 * this loader does not apply. Each problem keeps the node it was found at, for its position.
 */
import { isAlias, isMap, isScalar, isSeq } from "yaml";
import type { Document, Node } from "yaml";
import { resolvedText } from "./interpolate.ts";

export interface TreeProblem {
  node: Node;
  path: (string | number)[];
  message: string;
}

export function shapeIssues(
  doc: Document,
  limits: { maxDepth: number; maxNodes: number },
): TreeProblem[] {
  const problems: TreeProblem[] = [];
  // Expanded size of each anchored node, so an alias costs what it stands for.
  const sizes = new Map<unknown, number>();
  let expanded = 0;
  const fail = (node: unknown, path: (string | number)[], message: string) => {
    problems.push({ node: node as Node, path, message });
    return 0;
  };
  const visit = (node: unknown, path: (string | number)[]): number => {
    if (problems.length > 0) return 0;
    let size = 1;
    if (isAlias(node)) {
      size = sizes.get(node.resolve(doc)) ?? 1;
    } else if (path.length > limits.maxDepth) {
      return fail(node, path, `nested too deeply (at most ${limits.maxDepth} levels)`);
    } else if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (key === "<<") {
          return fail(
            pair.key,
            [...path, key],
            "merge keys (<<) are not supported: write the keys out, or use an alias for a whole value",
          );
        }
        size += visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => (size += visit(item, [...path, i])));
    }
    if (isAlias(node)) {
      expanded += size;
      if (expanded > limits.maxNodes) {
        return fail(
          node,
          path,
          `aliases expand the spec to more than ${limits.maxNodes} values: write the values out`,
        );
      }
    }
    if ((node as { anchor?: string } | null)?.anchor) sizes.set(node, size);
    return size;
  };
  visit(doc.contents, []);
  return problems;
}

/** The text a scalar was written as (or resolved to) when YAML read it as a number or boolean. */
export function textOf(node: Node): string | undefined {
  if (!isScalar(node) || !["number", "boolean"].includes(typeof node.value)) return undefined;
  return resolvedText.get(node) ?? node.source;
}
