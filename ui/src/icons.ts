/**
 * The window's icons: inline SVG built with DOM APIs (never a font or an
 * emoji, which may be missing, and never markup parsed from a string).
 * Each is drawn on a 24-unit grid with a 1.75 stroke in `currentColor`, so
 * it takes the colour of the text around it in both themes.
 */
import type { Group } from "./bindings/Group";

const SVG = "http://www.w3.org/2000/svg";

/** The icons by name: each a list of shapes, `[tag, attributes]`. */
const SHAPES = {
  // Creation and messages: a speech bubble.
  creation: [["path", { d: "M5 5.5h14a1.5 1.5 0 0 1 1.5 1.5v8.5a1.5 1.5 0 0 1-1.5 1.5H10l-4.5 3.5V17H5a1.5 1.5 0 0 1-1.5-1.5V7A1.5 1.5 0 0 1 5 5.5z" }]],
  // Changes: two arrows passing each other.
  changes: [["path", { d: "M4 8.5h14M14.5 5 18 8.5 14.5 12M20 15.5H6M9.5 12 6 15.5 9.5 19" }]],
  // CSAT: a star.
  csat: [["path", { d: "M12 3.8l2.5 5.1 5.6.8-4.05 3.95.95 5.6L12 16.6l-5 2.65.95-5.6L3.9 9.7l5.6-.8z" }]],
  // SLA: a clock.
  sla: [
    ["circle", { cx: "12", cy: "12", r: "8.25" }],
    ["path", { d: "M12 7.5V12l3 2" }],
  ],
  // Normatives: an hourglass.
  normatives: [["path", { d: "M6.5 3.75h11M6.5 20.25h11M8 3.75c0 4.5 8 4.75 8 8.25s-8 3.75-8 8.25M16 3.75c0 4.5-8 4.75-8 8.25s8 3.75 8 8.25" }]],
  // System: a warning triangle.
  system: [
    ["path", { d: "M12 4 21 19.5H3z" }],
    ["path", { d: "M12 10v4.25M12 16.9v.1" }],
  ],
  // Other (mentions, reminders): an at sign.
  other: [
    ["circle", { cx: "12", cy: "12", r: "3.5" }],
    ["path", { d: "M15.5 8.5v5a2.5 2.5 0 0 0 5 0V12a8.5 8.5 0 1 0-3.3 6.7" }],
  ],
  lock: [
    ["rect", { x: "5", y: "10.5", width: "14", height: "10", rx: "2" }],
    ["path", { d: "M8.25 10.5V7.75a3.75 3.75 0 0 1 7.5 0v2.75" }],
  ],
  bell: [["path", { d: "M6 16.5v-5.25a6 6 0 0 1 12 0v5.25l1.5 2H4.5zM10 20.75a2 2 0 0 0 4 0" }]],
  search: [
    ["circle", { cx: "10.5", cy: "10.5", r: "6" }],
    ["path", { d: "M15 15l5 5" }],
  ],
  check: [["path", { d: "M4.5 12.5 9.5 17.5 19.5 6.5" }]],
  settings: [
    ["circle", { cx: "12", cy: "12", r: "3" }],
    [
      "path",
      {
        d: "M12 2.75v2.5M12 18.75v2.5M2.75 12h2.5M18.75 12h2.5M5.45 5.45l1.77 1.77M16.78 16.78l1.77 1.77M5.45 18.55l1.77-1.77M16.78 7.22l1.77-1.77",
      },
    ],
  ],
  back: [["path", { d: "M14.5 5.5 8 12l6.5 6.5" }]],
  play: [["path", { d: "M8 5.5v13l10-6.5z" }]],
} as const satisfies Record<string, readonly (readonly [string, Readonly<Record<string, string>>])[]>;

/** An icon's name. */
export type IconName = keyof typeof SHAPES;

/** The icon of each catalogue group. */
export const GROUP_ICONS: Readonly<Record<Group, IconName>> = {
  creation: "creation",
  changes: "changes",
  csat: "csat",
  sla: "sla",
  normatives: "normatives",
  system: "system",
  other: "other",
};

/** An icon as an `<svg>` element, hidden from screen readers (the text
 * beside it says what it means). */
export function icon(doc: Document, name: IconName, className = "icon"): SVGSVGElement {
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("class", className);
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("data-icon", name);
  for (const [tag, attrs] of SHAPES[name]) {
    const shape = doc.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) shape.setAttribute(k, v);
    svg.append(shape);
  }
  return svg;
}

/** Points an icon made by `icon` at another shape. */
export function setIcon(svg: SVGSVGElement, name: IconName): void {
  if (svg.getAttribute("data-icon") === name) return;
  const doc = svg.ownerDocument;
  const fresh = icon(doc, name, svg.getAttribute("class") ?? "icon");
  svg.replaceChildren(...Array.from(fresh.childNodes));
  svg.setAttribute("data-icon", name);
}
