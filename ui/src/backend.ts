/**
 * The one way the UI reaches the app: the shell's commands and the core's
 * events. The window uses the Tauri implementation; the UI's own tests use
 * a fake, so they run without Tauri.
 */
import type { Center } from "./bindings/Center";
import type { General } from "./bindings/General";
import type { Pause } from "./bindings/Pause";
import type { Preferences } from "./bindings/Preferences";
import type { SoundOutput } from "./bindings/SoundOutput";
import type { UpdateChannel } from "./bindings/UpdateChannel";
import type { UpdateInfo } from "./bindings/UpdateInfo";
import type { CoreEvent, Notification, PageQuery, Status } from "./types";

export interface Backend {
  status(): Promise<Status>;
  page(query: PageQuery): Promise<Notification[]>;
  markRead(ids: string[]): Promise<void>;
  markAllRead(): Promise<void>;
  open(id: string): Promise<void>;
  retryNow(): Promise<void>;
  /** Signs in; rejects with the reason (shown under the form). */
  signIn(address: string, login: string, password: string): Promise<void>;
  /** Revokes the token on the instance and forgets it. */
  signOut(): Promise<void>;
  /** The Settings window's General tab. */
  general(): Promise<General>;
  /** Turns start at login on or off; rejects when the organization decides it. */
  setStartAtLogin(on: boolean): Promise<General>;
  /** The Notification Center: document, catalogue, pending edits. */
  center(): Promise<Center>;
  /** Applies an edit; rejects with an `EditFailure` (refused fields, or a `UiError`). */
  editPreferences(preferences: Preferences): Promise<Center>;
  /** Asks the instance for its test notification on a channel. */
  sendTest(channel: string): Promise<void>;
  /** Plays a melody now. */
  previewMelody(melody: string): Promise<void>;
  /** This device's volume and output device, with the devices listed now. */
  soundOutput(): Promise<SoundOutput>;
  /** Saves and applies this device's volume (0–1) and output device (null: the system's). */
  setSoundOutput(volume: number, device: string | null): Promise<SoundOutput>;
  /** Opens the instance's web app in the browser (bot channels are linked there). */
  openWebProfile(): Promise<void>;
  /** Takes in the user's own sound file for a type on this computer (not synced):
   * the file's bytes under its name. Rejects with why it was refused (not a
   * sound, too long, too big) as a `UiError`. */
  importSound(typeId: string, name: string, bytes: Uint8Array): Promise<SoundOutput>;
  /** Forgets the type's own sound file on this computer: its melody plays again. */
  removeSound(typeId: string): Promise<SoundOutput>;
  /** Tells the shell which view is in front ("inbox", "settings", "sign-in"). */
  shownView(view: string): Promise<void>;
  /** The view a new window starts on ("settings" from the tray), once. */
  startView(): Promise<string | null>;
  /** Pauses toasts and melodies, or resumes them, as the tray does. */
  pause(choice: Pause): Promise<void>;
  /** Where updating stands. */
  updateInfo(): Promise<UpdateInfo>;
  /** Asks the update feed now. */
  checkUpdates(): Promise<UpdateInfo>;
  /** Downloads the offered update, verifies its signature and installs it. */
  installUpdate(): Promise<UpdateInfo>;
  /** Follows stable or beta releases (checks at once); rejects when the organization sets the feed. */
  setUpdateChannel(channel: UpdateChannel): Promise<UpdateInfo>;
  /** Restarts into the installed update. */
  restartToUpdate(): Promise<void>;
  /** Calls `f` when the update state changes (a check, an install). */
  onUpdate(f: (u: UpdateInfo) => void): Promise<() => void>;
  /** Calls `f` when the tray asks the open window for a view. */
  onNavigate(f: (view: string) => void): Promise<() => void>;
  /** Calls `f` for every core event until the returned function is called. */
  onEvent(f: (ev: CoreEvent) => void): Promise<() => void>;
  /** Calls `f` when the tray's status changes. */
  onStatus(f: (s: Status) => void): Promise<() => void>;
  /** Says, once per opening of the window, that the inbox's first `rows`
   * are on screen (the benchmark's "Open inbox" figure times it). */
  painted?(rows: number): Promise<void>;
}

/** The backend inside the Tauri window. */
export async function tauriBackend(): Promise<Backend> {
  const { invoke } = await import("@tauri-apps/api/core");
  const { listen } = await import("@tauri-apps/api/event");
  return {
    status: () => invoke<Status>("status"),
    page: (query) => invoke<Notification[]>("inbox_page", { query }),
    markRead: (ids) => invoke("mark_read", { ids }),
    markAllRead: () => invoke("mark_all_read"),
    open: (id) => invoke("open_item", { id }),
    retryNow: () => invoke("retry_now"),
    signIn: (address, login, password) => invoke("sign_in", { address, login, password }),
    signOut: () => invoke("sign_out"),
    general: () => invoke<General>("general"),
    setStartAtLogin: (on) => invoke<General>("set_start_at_login", { on }),
    startView: () => invoke<string | null>("start_view"),
    shownView: (view) => invoke("shown_view", { view }),
    soundOutput: () => invoke<SoundOutput>("sound_output"),
    setSoundOutput: (volume, device) => invoke<SoundOutput>("set_sound_output", { volume, device }),
    openWebProfile: () => invoke("open_web_profile"),
    // Plain numbers in JSON: a sound file is at most 10 MB, usually a few hundred kB.
    importSound: (typeId, name, bytes) => invoke<SoundOutput>("import_sound", { typeId, name, bytes: Array.from(bytes) }),
    removeSound: (typeId) => invoke<SoundOutput>("remove_sound", { typeId }),
    center: () => invoke<Center>("center"),
    editPreferences: (preferences) => invoke<Center>("edit_preferences", { preferences }),
    sendTest: (channel) => invoke("send_test", { channel }),
    previewMelody: (melody) => invoke("preview_melody", { melody }),
    pause: (choice) => invoke("pause", { choice }),
    updateInfo: () => invoke<UpdateInfo>("update_info"),
    checkUpdates: () => invoke<UpdateInfo>("check_updates"),
    installUpdate: () => invoke<UpdateInfo>("install_update"),
    setUpdateChannel: (channel) => invoke<UpdateInfo>("set_update_channel", { channel }),
    restartToUpdate: () => invoke("restart_to_update"),
    onUpdate: (f) => listen<UpdateInfo>("update", (e) => f(e.payload)),
    onNavigate: (f) => listen<string>("navigate", (e) => f(e.payload)),
    onEvent: (f) => listen<CoreEvent>("core", (e) => f(e.payload)),
    onStatus: (f) => listen<Status>("status", (e) => f(e.payload)),
    painted: (rows) => invoke("inbox_painted", { rows }),
  };
}

/** Whether the page runs inside the Tauri shell. */
export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}
