// Shapes shared by the UI's own modules (hand-written; the API's are in api.d.ts).
import type { MeOut, UiConfigOut } from "./api";

/** What `h()` and `append()` take as children: nodes, text, or nested lists of them. */
export type Child = Node | string | number | null | undefined | false;
export type Children = Child | Children[];

/** What every view gets when it is mounted. */
export interface ViewContext {
  navigate: (hash: string, opts?: { replaceState?: boolean }) => void;
  query: URLSearchParams;
  /** The signed-in person (null only on the login page). */
  me: MeOut | null;
  /** True when the signed-in person may change things (admin role). */
  admin: boolean;
  /** Server settings the UI renders with (null only on the login page). */
  config: UiConfigOut | null;
}

/** A mounted view: torn down on navigation, updated in place for new query parameters. */
export interface View {
  destroy: () => void;
  update?: (query: URLSearchParams) => void;
}
