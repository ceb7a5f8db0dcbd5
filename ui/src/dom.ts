/**
 * The one way the UI makes elements: text goes in through `textContent`
 * only, never `innerHTML`, so nothing shown can become markup.
 */

/** Creates an element with a class and, optionally, its text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
