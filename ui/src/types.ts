/**
 * The shapes the shell's commands and the core's events carry, as serde
 * writes them from the Rust types (`belfry_proto::inbox::Notification`,
 * `belfry_core::event::{CoreEvent, ConnState, Quiet}`,
 * `belfry_core::store::Unread`, `belfry_desktop::Status`).
 *
 * Kept by hand for now; generating them from the Rust types is the next
 * step of the desktop app issue.
 */

export type Category = "events" | "system";

export interface Notification {
  id: string;
  seq: number;
  type: string;
  category: Category;
  title: string;
  body: string;
  link: string | null;
  created_at: string;
  read_at: string | null;
}

export interface Unread {
  total: number;
  events: number;
  system: number;
}

export type ConnState =
  | { state: "connecting" }
  | { state: "connected" }
  | { state: "reconnecting"; next_attempt: string; attempt: number }
  | { state: "offline"; next_attempt: string; attempt: number }
  | { state: "signed_out" }
  | { state: "incompatible"; reason: string }
  | { state: "stopped" };

export type Quiet =
  | { reason: "paused"; until: string }
  | { reason: "do_not_disturb"; source: string };

export interface Status {
  connection: ConnState | null;
  quiet: Quiet | null;
  unread: Unread;
  problem: string | null;
  account: string | null;
}

export type CoreEvent =
  | ({ event: "state" } & ConnState)
  | { event: "added"; items: Notification[] }
  | { event: "read"; ids: string[] }
  | { event: "read_all"; up_to_seq: number }
  | ({ event: "unread" } & Unread)
  | { event: "quiet"; reason?: string }
  | { event: "problem"; message: string }
  | { event: "settings" | "refused" | "status" };

export interface PageQuery {
  unread: boolean;
  category: Category | null;
  text: string | null;
  before: number | null;
  limit: number;
}
