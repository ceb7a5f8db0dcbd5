/**
 * The shapes the shell's commands and the core's events carry. They are
 * generated from the Rust types into `./bindings` (`cargo xtask bindings`;
 * a Rust test fails when they are out of date): this file only gathers them.
 */
export type { Category } from "./bindings/Category";
export type { ConnState } from "./bindings/ConnState";
export type { CoreEvent } from "./bindings/CoreEvent";
export type { Notification } from "./bindings/Notification";
export type { PageQuery } from "./bindings/PageQuery";
export type { Quiet } from "./bindings/Quiet";
export type { SettingsDocument } from "./bindings/SettingsDocument";
export type { Status } from "./bindings/Status";
export type { Unread } from "./bindings/Unread";
