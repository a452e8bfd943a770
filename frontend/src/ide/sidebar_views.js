// The side bar's views (Explorer, Search, ...) and the tabs above them that
// switch between them. The Explorer is what the template puts in the side
// bar; other views bring their own element. Only one view shows at a time.
import { h } from "../lib/dom.js";
import "./sidebar_views.css";

export class SidebarViews {
  /** `focusExplorer` puts the focus in the Explorer (F6, "View: Show Explorer"). */
  constructor(aside, { focusExplorer = () => {} } = {}) {
    this.aside = aside;
    this.views = new Map(); // id -> { tab, elements, onShow }
    this.active = null;
    this.tabList = h("div", { class: "sidebar-views", role: "tablist", "aria-label": "Side bar views" });
    const explorer = [...aside.children];
    aside.prepend(this.tabList);
    this.add({ id: "explorer", label: "Explorer", elements: explorer, onShow: ({ focus }) => focus && focusExplorer() });
    this.show("explorer", { focus: false });
  }

  /** Adds a view; `elements` not yet in the side bar are appended to it. */
  add({ id, label, elements, onShow = () => {} }) {
    const tab = h(
      "button",
      { type: "button", class: "sidebar-view-tab", role: "tab", "aria-selected": "false", tabindex: "-1", dataset: { testid: `sidebar-tab-${id}` } },
      label,
    );
    tab.addEventListener("click", () => this.show(id));
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const ids = [...this.views.keys()];
      const next = ids[(ids.indexOf(id) + (event.key === "ArrowRight" ? 1 : -1) + ids.length) % ids.length];
      this.show(next, { focus: false });
      this.views.get(next).tab.focus();
    });
    this.tabList.append(tab);
    for (const element of elements) if (!this.aside.contains(element)) this.aside.append(element);
    this.views.set(id, { tab, elements, onShow });
    if (this.active !== null) this.render();
  }

  /** Shows a view; with `focus`, its onShow puts the focus in it. */
  show(id, { focus = true } = {}) {
    if (!this.views.has(id)) return;
    this.active = id;
    this.render();
    this.views.get(id).onShow({ focus });
  }

  render() {
    for (const [id, { tab, elements }] of this.views) {
      const selected = id === this.active;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      for (const element of elements) element.hidden = !selected;
    }
  }
}
