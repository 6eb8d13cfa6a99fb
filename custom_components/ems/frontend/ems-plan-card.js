/*
 * ems-plan-card: the ems plan of the next hours as a chart (a Lovelace card).
 *
 * Served and loaded by the ems integration (custom_components/ems/frontend.py); no build, no
 * library: a custom element with a shadow root and an inline SVG.
 *
 *   type: custom:ems-plan-card
 *   entity: sensor.home            # prefix of the site's plan sensors (English entity ids), or
 *                                  # the id of one of them (the others are found on its device)
 *   entities:                      # or each series explicitly (overrides `entity`)
 *     battery: sensor.home_planned_battery_power
 *     grid: sensor.home_planned_grid_power
 *     pv: sensor.home_pv_forecast
 *     load: sensor.home_load_forecast
 *     soc: sensor.home_planned_state_of_charge
 *     cost: sensor.home_planned_cost
 *   title: Plan                    # optional ("" hides it)
 *   hours: 24                      # optional: how many hours to show (default: the whole plan)
 *
 * Each plan sensor has a `series` attribute (a list of {time, value}: one per step, one per step
 * boundary for the SOC) and `step_minutes`.
 */

const CARD_TYPE = "ems-plan-card";

// Role → the sensor's translation key (entity registry) and its English entity id suffix.
const ROLES = {
  battery: { key: "plan_battery_power", suffix: "_planned_battery_power" },
  grid: { key: "plan_grid_power", suffix: "_planned_grid_power" },
  pv: { key: "plan_pv_forecast", suffix: "_pv_forecast" },
  load: { key: "plan_load_forecast", suffix: "_load_forecast" },
  soc: { key: "plan_soc", suffix: "_planned_state_of_charge" },
  cost: { key: "plan_cost", suffix: "_planned_cost" },
};
const OPTIONS = ["type", "title", "entity", "entities", "hours"];
// Keys Home Assistant's layouts add to any card's configuration.
const LAYOUT_OPTIONS = ["grid_options", "layout_options", "view_layout", "visibility"];

const COLORS = {
  pv: "#f59e0b",
  pvFill: "#fcd34d",
  load: "#1e6fd9",
  loadFill: "#93c5fd",
  appliances: "#7dd3fc",
  battery: "#2e9e44",
  grid: "#9c27b0",
  soc: "#0f5f58",
  now: "#d32f2f",
};

const TEXTS = {
  en: {
    title: "Plan of the next hours",
    pv: "PV forecast",
    load: "Load forecast",
    appliances: "Appliances",
    battery: "Battery (+ charge / − discharge)",
    batteryShort: "Battery",
    grid: "Grid (+ import / − export)",
    gridShort: "Grid",
    soc: "State of charge",
    cost: "Cost",
    charge: "charge",
    discharge: "discharge",
    import: "import",
    export: "export",
    now: "now",
    stale: "Stale plan: not followed",
    noPlan: "No plan yet: the optimizer add-on sends one when it starts, then every 15 minutes.",
    missing: "Not found:",
  },
  fr: {
    title: "Plan des prochaines heures",
    pv: "Prévision PV",
    load: "Prévision de consommation",
    appliances: "Appareils",
    battery: "Batterie (+ charge / − décharge)",
    batteryShort: "Batterie",
    grid: "Réseau (+ soutirage / − injection)",
    gridShort: "Réseau",
    soc: "État de charge",
    cost: "Coût",
    charge: "charge",
    discharge: "décharge",
    import: "soutirage",
    export: "injection",
    now: "maintenant",
    stale: "Plan périmé : non suivi",
    noPlan:
      "Pas encore de plan : le module d'optimisation en envoie un à son démarrage, puis toutes " +
      "les 15 minutes.",
    missing: "Introuvable :",
  },
};

const HEIGHT = 340;
const MARGIN = { top: 24, right: 48, bottom: 40, left: 52 };
const NOW_REFRESH_MS = 60 * 1000;
const SMALL_W = 20; // below this, a derived power is noise

const escapeHtml = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

const ENTITY_ID = /^sensor\.[a-z0-9_]+$/;
const PREFIX = /^(sensor\.)?[a-z0-9_]+$/;

/** A readable step of an axis: 1, 2, 2.5 or 5 times a power of ten, about `count` ticks. */
function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

class EmsPlanCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = undefined;
    this._hass = undefined;
    this._hover = undefined; // index of the step under the pointer
    this._width = 0;
    this._data = undefined;
    this._resolved = undefined;
  }

  /* ---- Lovelace API ------------------------------------------------------------------- */

  static getStubConfig(hass) {
    const entries = Object.values((hass && hass.entities) || {});
    const battery = entries.find(
      (e) => e.platform === "ems" && e.translation_key === ROLES.battery.key,
    );
    if (battery) return { entity: battery.entity_id };
    const id = Object.keys((hass && hass.states) || {}).find((e) =>
      e.endsWith(ROLES.battery.suffix),
    );
    return { entity: id ? id.slice(0, -ROLES.battery.suffix.length) : "sensor.home" };
  }

  setConfig(config) {
    const fail = (message) => {
      throw new Error(`${CARD_TYPE}: ${message}`);
    };
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      fail("the configuration must be a mapping");
    }
    for (const key of Object.keys(config)) {
      if (!OPTIONS.includes(key) && !LAYOUT_OPTIONS.includes(key)) {
        fail(`unknown option "${key}" (options: ${OPTIONS.slice(1).join(", ")})`);
      }
    }
    const { entity, entities, title, hours } = config;
    if (entity !== undefined && (typeof entity !== "string" || !PREFIX.test(entity))) {
      fail(
        `"entity" must be the prefix of the site's plan sensors (e.g. sensor.home for ` +
          `sensor.home_planned_battery_power) or one of their ids, not ${JSON.stringify(entity)}`,
      );
    }
    if (entities !== undefined) {
      if (!entities || typeof entities !== "object" || Array.isArray(entities)) {
        fail(`"entities" must be a mapping of ${Object.keys(ROLES).join(", ")} to sensor ids`);
      }
      for (const [role, id] of Object.entries(entities)) {
        if (!(role in ROLES)) {
          fail(`unknown series "entities.${role}" (series: ${Object.keys(ROLES).join(", ")})`);
        }
        if (typeof id !== "string" || !ENTITY_ID.test(id)) {
          fail(`"entities.${role}" must be a sensor's entity id, not ${JSON.stringify(id)}`);
        }
      }
    }
    if (!entity && !(entities && (entities.battery || entities.grid))) {
      fail(
        'missing option "entity" (the prefix of the site\'s plan sensors, e.g. sensor.home) ' +
          'or "entities" with at least "battery" or "grid"',
      );
    }
    if (title !== undefined && title !== null && typeof title !== "string") {
      fail(`"title" must be a text, not ${JSON.stringify(title)}`);
    }
    if (hours !== undefined && !(typeof hours === "number" && hours > 0 && hours <= 168)) {
      fail(`"hours" must be a number of hours between 0 and 168, not ${JSON.stringify(hours)}`);
    }
    this._config = config;
    this._resolved = undefined;
    this._signature = undefined;
    if (this._hass) this._update(true);
  }

  set hass(hass) {
    this._hass = hass;
    this._update(false);
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return 7;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, rows: "auto" };
  }

  connectedCallback() {
    this._timer = setInterval(() => this._update(true), NOW_REFRESH_MS); // the "now" marker
    if (typeof ResizeObserver !== "undefined") {
      this._resize = new ResizeObserver(() => {
        const width = this._chartWidth();
        if (width && Math.abs(width - this._width) > 1) this._update(true);
      });
      this._resize.observe(this);
    }
    if (this._hass) this._update(true);
  }

  disconnectedCallback() {
    clearInterval(this._timer);
    if (this._resize) this._resize.disconnect();
    this._resize = undefined;
  }

  /* ---- which sensors, what changed ------------------------------------------------------ */

  _entities() {
    const hass = this._hass;
    const registry = hass.entities;
    if (this._resolved && this._resolved.registry === registry) return this._resolved.ids;
    const { entity, entities = {} } = this._config;
    const ids = {};
    const own = entity && registry && registry[entity];
    const siblings =
      own && own.device_id
        ? Object.values(registry).filter(
            (e) => e.device_id === own.device_id && e.platform === own.platform,
          )
        : [];
    const prefix = entity && !own ? (entity.startsWith("sensor.") ? entity : `sensor.${entity}`) : "";
    for (const [role, { key, suffix }] of Object.entries(ROLES)) {
      if (entities[role]) {
        ids[role] = entities[role];
      } else if (own) {
        const found = siblings.find((e) => e.translation_key === key);
        if (found) ids[role] = found.entity_id;
      } else if (prefix) {
        ids[role] = prefix + suffix;
      }
    }
    this._resolved = { registry, ids };
    return ids;
  }

  _update(force) {
    if (!this._config || !this._hass) return;
    const hass = this._hass;
    const ids = this._entities();
    const states = Object.values(ids).map((id) => hass.states[id]);
    const signature = [
      ...states,
      hass.locale,
      hass.language,
      hass.config && hass.config.time_zone,
      hass.themes && hass.themes.darkMode,
    ];
    const same =
      this._signature &&
      this._signature.length === signature.length &&
      this._signature.every((v, i) => v === signature[i]);
    if (same && !force) return;
    this._signature = signature;
    this._render();
  }

  /* ---- locale ---------------------------------------------------------------------------- */

  _language() {
    const hass = this._hass;
    return (hass.locale && hass.locale.language) || hass.language || "en";
  }

  _texts() {
    return TEXTS[this._language().split("-")[0].toLowerCase()] || TEXTS.en;
  }

  _timeZone() {
    const hass = this._hass;
    if (hass.locale && hass.locale.time_zone === "local") return undefined; // the browser's
    return (hass.config && hass.config.time_zone) || undefined;
  }

  _formats() {
    const hass = this._hass;
    const language = this._language();
    const locale = hass.locale || {};
    const numberLocale =
      {
        comma_decimal: "en-US",
        decimal_comma: "de",
        space_comma: "fr",
        system: undefined,
      }[locale.number_format] ?? language;
    const grouping = locale.number_format !== "none";
    const hour12 = { 12: true, 24: false }[locale.time_format];
    const timeLocale = locale.time_format === "system" ? undefined : language;
    const make = (options, own = { hour12 }) => {
      try {
        return new Intl.DateTimeFormat(timeLocale, { ...options, ...own, timeZone: this._timeZone() });
      } catch (err) {
        return new Intl.DateTimeFormat(timeLocale, { ...options, ...own }); // an unknown zone
      }
    };
    const number = (digits) =>
      new Intl.NumberFormat(numberLocale, {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
        useGrouping: grouping,
      });
    return {
      time: make({ hour: "2-digit", minute: "2-digit" }),
      hour: make({ hour: "numeric", minute: "2-digit" }),
      day: make({ weekday: "short" }),
      parts: make({ hour: "numeric", minute: "numeric" }, { hourCycle: "h23" }),
      kw: number(1),
      axis: number(1),
      pct: number(0),
      eur: number(2),
    };
  }

  /* ---- data ------------------------------------------------------------------------------ */

  _series(id) {
    const state = id && this._hass.states[id];
    if (!state || state.state === "unavailable") return undefined;
    const series = state.attributes && state.attributes.series;
    if (!Array.isArray(series) || series.length === 0) return undefined;
    const byTime = new Map();
    for (const point of series) {
      const time = Date.parse(point && point.time);
      const value = Number(point && point.value);
      if (Number.isFinite(time) && Number.isFinite(value)) byTime.set(time, value);
    }
    return byTime.size
      ? { byTime, step: Number(state.attributes.step_minutes), stale: !!state.attributes.stale }
      : undefined;
  }

  _collect() {
    const ids = this._entities();
    const series = {};
    for (const role of Object.keys(ROLES)) series[role] = this._series(ids[role]);
    const base = series.battery || series.grid;
    if (!base) return undefined;
    const times = [...base.byTime.keys()].sort((a, b) => a - b);
    let stepMin = base.step;
    if (!(stepMin > 0)) stepMin = times.length > 1 ? (times[1] - times[0]) / 60000 : 15;
    const stepMs = stepMin * 60000;
    const now = Date.now();
    let steps = times.map((t) => {
      const at = (role) => (series[role] ? series[role].byTime.get(t) : undefined);
      const step = {
        t,
        end: t + stepMs,
        pv: at("pv"),
        load: at("load"),
        battery: at("battery"),
        grid: at("grid"),
        cost: at("cost"),
        socStart: series.soc ? series.soc.byTime.get(t) : undefined,
        socEnd: series.soc ? series.soc.byTime.get(t + stepMs) : undefined,
      };
      const parts = [step.pv, step.grid, step.load, step.battery];
      if (parts.every((v) => v !== undefined)) {
        const rest = step.pv + step.grid - step.load - step.battery;
        step.appliances = rest > SMALL_W ? rest : 0;
      }
      return step;
    });
    // A plan that started long ago (the add-on stopped): keep one hour before now.
    steps = steps.filter((s) => s.end > now - 3600 * 1000);
    if (this._config.hours) {
      const until = Math.max(now, steps.length ? steps[0].t : now) + this._config.hours * 3600000;
      steps = steps.filter((s) => s.t < until);
    }
    if (!steps.length) return undefined;
    return {
      steps,
      stepMs,
      stale: base.stale,
      has: Object.fromEntries(Object.keys(ROLES).map((r) => [r, !!series[r]])),
      appliances: steps.some((s) => s.appliances > 0),
    };
  }

  /* ---- rendering ------------------------------------------------------------------------- */

  _chartWidth() {
    const box = this.shadowRoot.querySelector(".chart");
    const width = (box && box.clientWidth) || this.clientWidth;
    return width || 0;
  }

  _render() {
    const texts = this._texts();
    const title = this._config.title ?? texts.title;
    let data;
    try {
      data = this._collect();
    } catch (err) {
      data = undefined;
    }
    this._data = data;
    const header = title ? `<h1 class="title">${escapeHtml(title)}</h1>` : "";
    if (!data) {
      const ids = this._entities();
      const missing = [ids.battery, ids.grid].filter((id) => id && !this._hass.states[id]);
      const hint = missing.length
        ? `<div class="hint">${escapeHtml(texts.missing)} ${missing.map(escapeHtml).join(", ")}</div>`
        : "";
      this.shadowRoot.innerHTML = `${STYLE}<ha-card>${header}
        <div class="empty"><p class="no-plan">${escapeHtml(texts.noPlan)}</p>${hint}</div>
        </ha-card>`;
      return;
    }
    const legend = this._legend(data, texts);
    const stale = data.stale ? `<span class="stale">${escapeHtml(texts.stale)}</span>` : "";
    this.shadowRoot.innerHTML = `${STYLE}<ha-card>
      ${header || stale ? `<div class="head">${header}${stale}</div>` : ""}
      <div class="legend">${legend}</div>
      <div class="chart"><svg class="plan" role="img"></svg><div class="tip" hidden></div></div>
      </ha-card>`;
    this._width = this._chartWidth() || 600;
    this._draw(data, texts);
  }

  _legend(data, texts) {
    const item = (cls, label, swatch) =>
      `<span class="item item-${cls}">${swatch}<span>${escapeHtml(label)}</span></span>`;
    const box = (fill, stroke) =>
      `<svg width="18" height="12"><rect x="1" y="1" width="16" height="10" rx="2" ` +
      `fill="${fill}" stroke="${stroke}" stroke-width="1.5"/></svg>`;
    const line = (color, dash) =>
      `<svg width="22" height="12"><line x1="1" y1="6" x2="21" y2="6" stroke="${color}" ` +
      `stroke-width="${dash ? 2.5 : 3}"${dash ? ' stroke-dasharray="5 3"' : ""}/></svg>`;
    const out = [];
    if (data.has.pv) out.push(item("pv", texts.pv, box(COLORS.pvFill, COLORS.pv)));
    if (data.has.load) out.push(item("load", texts.load, line(COLORS.load)));
    if (data.appliances) {
      out.push(item("appliances", texts.appliances, box(COLORS.appliances, COLORS.appliances)));
    }
    if (data.has.battery) out.push(item("battery", texts.battery, box(COLORS.battery, COLORS.battery)));
    if (data.has.grid) out.push(item("grid", texts.grid, line(COLORS.grid)));
    if (data.has.soc) out.push(item("soc", `${texts.soc} (%)`, line(COLORS.soc, true)));
    return out.join("");
  }

  _draw(data, texts) {
    const svg = this.shadowRoot.querySelector("svg.plan");
    const fmt = this._formats();
    const width = Math.max(this._width, 280);
    const { steps, stepMs } = data;
    const t0 = steps[0].t;
    const t1 = steps[steps.length - 1].end;
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    const x = (t) => MARGIN.left + ((t - t0) / (t1 - t0)) * plotW;

    // Power axis (kW), with zero inside.
    let lo = 0;
    let hi = 0;
    for (const s of steps) {
      const top = (s.load ?? 0) + (s.appliances ?? 0);
      hi = Math.max(hi, s.pv ?? 0, top, s.battery ?? 0, s.grid ?? 0);
      lo = Math.min(lo, s.battery ?? 0, s.grid ?? 0);
    }
    if (hi - lo < 100) hi = lo + 100;
    const tick = niceStep((hi - lo) / 1000, 6) * 1000;
    lo = Math.floor(lo / tick) * tick;
    hi = Math.ceil(hi / tick) * tick;
    const y = (w) => MARGIN.top + ((hi - w) / (hi - lo)) * plotH;
    const ySoc = (p) => MARGIN.top + ((100 - p) / 100) * plotH;
    const digits = tick % 1000 === 0 ? 0 : tick % 100 === 0 ? 1 : 2;
    const axisFmt = new Intl.NumberFormat(fmt.kw.resolvedOptions().locale, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });

    const out = [];
    // The past, shaded; grid lines and labels of the power axis.
    const now = Date.now();
    if (now > t0) {
      out.push(
        `<rect class="past" x="${MARGIN.left}" y="${MARGIN.top}" ` +
          `width="${(Math.min(x(now), x(t1)) - MARGIN.left).toFixed(1)}" height="${plotH}"/>`,
      );
    }
    for (let w = lo; w <= hi + 1e-6; w += tick) {
      const yy = y(w).toFixed(1);
      out.push(
        `<line class="${Math.abs(w) < 1e-6 ? "zero" : "gridline"}" x1="${MARGIN.left}" ` +
          `x2="${MARGIN.left + plotW}" y1="${yy}" y2="${yy}"/>`,
        `<text class="axis" x="${MARGIN.left - 6}" y="${yy}" text-anchor="end" ` +
          `dominant-baseline="middle">${escapeHtml(axisFmt.format(w / 1000))}</text>`,
      );
    }
    out.push(
      `<text class="unit" x="${MARGIN.left - 6}" y="${MARGIN.top - 12}" text-anchor="end">kW</text>`,
    );
    if (data.has.soc) {
      for (const p of [0, 50, 100]) {
        out.push(
          `<text class="axis soc-axis" x="${MARGIN.left + plotW + 6}" y="${ySoc(p).toFixed(1)}" ` +
            `dominant-baseline="middle">${escapeHtml(fmt.pct.format(p))} %</text>`,
        );
      }
    }
    out.push(...this._timeAxis(fmt, t0, t1, x, plotH, plotW));

    // PV: a filled area; then the battery's bars; load (+ appliances stacked); grid; SOC.
    const stepPath = (value, base) => {
      let d = "";
      for (const s of steps) {
        const v = value(s);
        if (v === undefined) continue;
        const b = base ? base(s) : undefined;
        d +=
          base === undefined
            ? `${d ? "L" : "M"}${x(s.t).toFixed(1)},${y(v).toFixed(1)}L${x(s.end).toFixed(1)},${y(v).toFixed(1)}`
            : `M${x(s.t).toFixed(1)},${y(b).toFixed(1)}V${y(v).toFixed(1)}H${x(s.end).toFixed(1)}V${y(b).toFixed(1)}Z`;
      }
      return d;
    };
    if (data.has.pv) {
      out.push(
        `<path class="pv-area" d="${stepPath((s) => s.pv, () => 0)}"/>`,
        `<path class="pv-line" d="${stepPath((s) => s.pv)}"/>`,
      );
    }
    if (data.appliances) {
      out.push(
        `<path class="appliances-area" d="${stepPath(
          (s) => (s.appliances ? (s.load ?? 0) + s.appliances : undefined),
          (s) => s.load ?? 0,
        )}"/>`,
      );
    }
    if (data.has.battery) {
      const gap = Math.min(1, (x(t0 + stepMs) - x(t0)) * 0.15);
      for (const s of steps) {
        if (!s.battery) continue;
        const top = y(Math.max(s.battery, 0));
        const h = Math.abs(y(s.battery) - y(0));
        out.push(
          `<rect class="battery" x="${(x(s.t) + gap / 2).toFixed(1)}" y="${top.toFixed(1)}" ` +
            `width="${Math.max(x(s.end) - x(s.t) - gap, 0.5).toFixed(1)}" height="${h.toFixed(1)}"/>`,
        );
      }
    }
    if (data.has.load) out.push(`<path class="load-line" d="${stepPath((s) => s.load)}"/>`);
    if (data.has.grid) out.push(`<path class="grid-line" d="${stepPath((s) => s.grid)}"/>`);
    if (data.has.soc) {
      const points = [];
      for (const s of steps) {
        if (s.socStart !== undefined) points.push([x(s.t), ySoc(s.socStart)]);
      }
      const last = steps[steps.length - 1];
      if (last.socEnd !== undefined) points.push([x(last.end), ySoc(last.socEnd)]);
      if (points.length > 1) {
        out.push(
          `<polyline class="soc-line" points="${points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}"/>`,
        );
      }
    }
    // Now.
    if (now >= t0 && now <= t1) {
      const xn = x(now).toFixed(1);
      out.push(
        `<line class="now" x1="${xn}" x2="${xn}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}"/>`,
        `<text class="now-label" x="${(x(now) + 4).toFixed(1)}" y="${MARGIN.top + 12}">${escapeHtml(
          texts.now,
        )}</text>`,
      );
    }
    out.push(
      `<rect class="hover" hidden x="0" y="${MARGIN.top}" width="0" height="${plotH}"/>`,
      `<rect class="overlay" x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}"/>`,
    );

    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(HEIGHT));
    svg.setAttribute("data-steps", String(steps.length));
    svg.setAttribute("aria-label", texts.title);
    svg.innerHTML = out.join("");
    this._geometry = { x, t0, t1, plotW, stepMs, width };
    this._bindPointer(svg);
    if (this._hover !== undefined) this._showTip(this._hover);
  }

  _timeAxis(fmt, t0, t1, x, plotH, plotW) {
    const out = [];
    const hours = (t1 - t0) / 3600000;
    const every = [1, 2, 3, 4, 6, 12].find((h) => (plotW / hours) * h >= 64) || 24;
    const bottom = MARGIN.top + plotH;
    const quarter = 15 * 60000;
    for (let t = Math.ceil(t0 / quarter) * quarter; t <= t1; t += quarter) {
      const parts = Object.fromEntries(fmt.parts.formatToParts(t).map((p) => [p.type, p.value]));
      if (Number(parts.minute) !== 0) continue;
      const hour = Number(parts.hour) % 24;
      const xx = x(t).toFixed(1);
      if (hour === 0) {
        out.push(
          `<line class="midnight" x1="${xx}" x2="${xx}" y1="${MARGIN.top}" y2="${bottom}"/>`,
          `<text class="axis day" x="${xx}" y="${bottom + 30}" text-anchor="middle">${escapeHtml(
            fmt.day.format(t),
          )}</text>`,
        );
      }
      if (hour % every !== 0) continue;
      if (hour !== 0) {
        out.push(`<line class="vgrid" x1="${xx}" x2="${xx}" y1="${MARGIN.top}" y2="${bottom}"/>`);
      }
      out.push(
        `<line class="tick" x1="${xx}" x2="${xx}" y1="${bottom}" y2="${bottom + 4}"/>`,
        `<text class="axis" x="${xx}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(
          fmt.hour.format(t),
        )}</text>`,
      );
    }
    return out;
  }

  /* ---- tooltip --------------------------------------------------------------------------- */

  _bindPointer(svg) {
    const overlay = svg.querySelector(".overlay");
    const index = (event) => {
      const box = svg.getBoundingClientRect();
      const { x, t0, t1, width } = this._geometry;
      const px = ((event.clientX - box.left) / box.width) * width;
      const t = t0 + ((px - x(t0)) / (x(t1) - x(t0))) * (t1 - t0);
      const i = this._data.steps.findIndex((s) => t >= s.t && t < s.end);
      return i < 0 ? undefined : i;
    };
    overlay.addEventListener("pointermove", (event) => this._showTip(index(event)));
    overlay.addEventListener("pointerdown", (event) => this._showTip(index(event)));
    overlay.addEventListener("pointerleave", (event) => {
      if (event.pointerType === "mouse") this._showTip(undefined);
    });
  }

  _showTip(i) {
    const tip = this.shadowRoot.querySelector(".tip");
    const hover = this.shadowRoot.querySelector("rect.hover");
    const step = i === undefined || !this._data ? undefined : this._data.steps[i];
    this._hover = step ? i : undefined;
    if (!tip || !hover) return;
    if (!step) {
      tip.hidden = true;
      tip.innerHTML = "";
      hover.setAttribute("hidden", "");
      return;
    }
    const texts = this._texts();
    const fmt = this._formats();
    const { x, width } = this._geometry;
    const kw = (w) => `${fmt.kw.format(w / 1000)} kW`;
    const signed = (w, plus, minus) =>
      Math.abs(w) < 50 // shown as 0.0 kW
        ? kw(0)
        : `${w > 0 ? "+" : "−"}${kw(Math.abs(w))} <span class="dim">${escapeHtml(
            w > 0 ? plus : minus,
          )}</span>`;
    const row = (color, label, value) =>
      `<div class="row"><span class="dot" style="background:${color}"></span>` +
      `<span class="label">${escapeHtml(label)}</span><span class="value">${value}</span></div>`;
    const rows = [];
    if (step.pv !== undefined) rows.push(row(COLORS.pv, texts.pv, kw(step.pv)));
    if (step.load !== undefined) rows.push(row(COLORS.load, texts.load, kw(step.load)));
    if (this._data.appliances) {
      rows.push(row(COLORS.appliances, texts.appliances, kw(step.appliances ?? 0)));
    }
    if (step.battery !== undefined) {
      rows.push(
        row(COLORS.battery, texts.batteryShort, signed(step.battery, texts.charge, texts.discharge)),
      );
    }
    if (step.grid !== undefined) {
      rows.push(row(COLORS.grid, texts.gridShort, signed(step.grid, texts.import, texts.export)));
    }
    if (step.socStart !== undefined) {
      const end = step.socEnd === undefined ? "" : ` → ${fmt.pct.format(step.socEnd)}`;
      rows.push(row(COLORS.soc, texts.soc, `${fmt.pct.format(step.socStart)}${end} %`));
    }
    if (step.cost !== undefined) rows.push(row("transparent", texts.cost, `${fmt.eur.format(step.cost)} €`));
    tip.innerHTML =
      `<div class="when">${escapeHtml(fmt.time.format(step.t))} – ${escapeHtml(
        fmt.time.format(step.end),
      )}</div>${rows.join("")}`;
    tip.hidden = false;
    const x0 = x(step.t);
    const x1 = x(step.end);
    hover.setAttribute("x", x0.toFixed(1));
    hover.setAttribute("width", Math.max(x1 - x0, 1).toFixed(1));
    hover.removeAttribute("hidden");
    // Beside the step, on the side with room; in CSS pixels of the chart's box.
    const scale = this._chartWidth() / width || 1;
    const tipW = tip.offsetWidth || 200;
    const right = x1 * scale + 12;
    const left = right + tipW > this._chartWidth() ? x0 * scale - 12 - tipW : right;
    tip.style.left = `${Math.max(left, 0)}px`;
    tip.style.top = `${MARGIN.top}px`;
  }
}

const STYLE = `<style>
  :host { display: block; }
  ha-card { display: block; padding: 12px 16px 8px; box-sizing: border-box; height: 100%; }
  .head { display: flex; align-items: baseline; justify-content: space-between; gap: 8px;
    flex-wrap: wrap; }
  .title { margin: 0 0 6px; font-size: 1.25em; font-weight: 500; line-height: 1.4;
    color: var(--ha-card-header-color, var(--primary-text-color)); }
  .stale { font-size: 0.85em; padding: 2px 8px; border-radius: 10px;
    background: var(--warning-color, #ffa600); color: #000; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 2px 0 6px;
    font-size: 13px; color: var(--primary-text-color); }
  .legend .item { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
  .chart { position: relative; width: 100%; }
  svg.plan { display: block; width: 100%; height: auto; overflow: visible;
    font-family: var(--ha-font-family-body, var(--paper-font-body1_-_font-family, sans-serif)); }
  .axis, .unit, .now-label { font-size: 12px; fill: var(--secondary-text-color, #666); }
  .axis.day { font-weight: 600; fill: var(--primary-text-color); }
  .unit { font-weight: 600; }
  .gridline, .vgrid { stroke: var(--divider-color, rgba(0, 0, 0, 0.12)); stroke-width: 1; }
  .vgrid { stroke-dasharray: 2 3; }
  .midnight { stroke: var(--secondary-text-color, #888); stroke-width: 1; stroke-dasharray: 4 3; }
  .zero { stroke: var(--secondary-text-color, #888); stroke-width: 1.2; }
  .tick { stroke: var(--secondary-text-color, #888); }
  .past { fill: var(--secondary-text-color, #888); opacity: 0.1; }
  .pv-area { fill: ${COLORS.pvFill}; opacity: 0.45; }
  .pv-line { fill: none; stroke: ${COLORS.pv}; stroke-width: 2; stroke-linejoin: round; }
  .appliances-area { fill: ${COLORS.appliances}; opacity: 0.7; }
  .battery { fill: ${COLORS.battery}; opacity: 0.8; }
  .load-line { fill: none; stroke: ${COLORS.load}; stroke-width: 2.2; stroke-linejoin: round; }
  .grid-line { fill: none; stroke: ${COLORS.grid}; stroke-width: 2.2; stroke-linejoin: round; }
  .soc-line { fill: none; stroke: ${COLORS.soc}; stroke-width: 2.2; stroke-dasharray: 6 4; }
  .soc-axis { fill: ${COLORS.soc}; }
  .now { stroke: ${COLORS.now}; stroke-width: 1.5; }
  .now-label { fill: ${COLORS.now}; font-weight: 600; }
  .hover { fill: var(--primary-text-color, #000); opacity: 0.1; pointer-events: none; }
  .hover[hidden] { display: none; }
  .overlay { fill: transparent; cursor: crosshair; touch-action: pan-y; }
  .tip { position: absolute; z-index: 1; pointer-events: none; min-width: 190px;
    padding: 8px 10px; border-radius: 8px; font-size: 13px; line-height: 1.5;
    background: var(--card-background-color, #fff); color: var(--primary-text-color, #000);
    border: 1px solid var(--divider-color, #ccc); box-shadow: 0 2px 8px rgba(0, 0, 0, 0.2); }
  .tip[hidden] { display: none; }
  .tip .when { font-weight: 600; margin-bottom: 2px; }
  .tip .row { display: flex; align-items: center; gap: 6px; }
  .tip .dot { width: 10px; height: 10px; border-radius: 50%; flex: none; }
  .tip .label { flex: 1; }
  .tip .value { font-variant-numeric: tabular-nums; white-space: nowrap; }
  .tip .dim { color: var(--secondary-text-color, #666); }
  .empty { padding: 16px 0 12px; }
  .no-plan { margin: 0; font-style: italic; color: var(--secondary-text-color, #666); }
  .hint { margin-top: 6px; font-size: 12px; color: var(--secondary-text-color, #666); }
</style>`;

if (!customElements.get(CARD_TYPE)) {
  customElements.define(CARD_TYPE, EmsPlanCard);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: CARD_TYPE,
    name: "ems plan",
    description: "The ems plan of the next hours: PV, load, battery, grid and state of charge.",
    preview: true,
  });
}
