/**
 * The one way the UI makes elements: text goes in through `textContent`
 * only, never `innerHTML`, so nothing shown can become markup.
 */
import { HIDDEN } from "./bindings/Hidden";

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

/**
 * Text from the instance as it is shown: without the control, bidi-override
 * and zero-width characters that would make it read as something else
 * (`invoice\u202Efdp.exe` shown as "invoiceexe.pdf"). One set, generated
 * from the Rust (`belfry_proto::text::HIDDEN`): the toasts and the tray
 * menu remove the same, and the store's search matches text without them.
 */
export function plain(s: string): string {
  return s.replace(HIDDEN, "");
}

/**
 * A settings group as the window draws it: its title (a `legend`) above,
 * the rest in one card. Returns `group`, its rows moved into the card.
 */
export function card<T extends HTMLElement>(group: T): T {
  const box = el(group.ownerDocument, "div", "group__card");
  box.append(...Array.from(group.children).filter((c) => c.tagName !== "LEGEND"));
  group.append(box);
  return group;
}
