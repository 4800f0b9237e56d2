// Live pages: a WebSocket per page patches the catalog rows or the federation page in place,
// and grows the learning curves. The server only pushes; this script never sends anything.
(function () {
  "use strict";

  function relativeTime(iso) {
    if (!iso) return "never";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    const steps = [[60, "second", 1], [3600, "minute", 60], [86400, "hour", 3600], [Infinity, "day", 86400]];
    for (const [limit, unit, size] of steps) {
      if (seconds < limit) {
        const n = Math.floor(seconds / size);
        if (unit === "second" && n < 5) return "now";
        return n + " " + unit + (n === 1 ? "" : "s") + " ago";
      }
    }
  }

  function seconds(value) {
    return value === null || value === undefined ? "—" : value.toFixed(1) + " s";
  }

  function setText(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = text; });
  }

  function renderTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      el.textContent = relativeTime(el.getAttribute("datetime"));
    });
  }

  function patch(root, f) {
    root.querySelectorAll('[data-field="status"]').forEach(function (badge) {
      badge.textContent = f.status_label;
      badge.classList.toggle("text-bg-success", f.status === "online");
      badge.classList.toggle("text-bg-secondary", f.status !== "online");
    });
    root.querySelectorAll('[data-field="participants_wanted"]').forEach(function (badge) {
      badge.hidden = !f.participants_wanted;
    });
    setText(root, "phase", f.phase_label);
    setText(root, "current_round", f.current_round);
    setText(root, "total_rounds", f.total_rounds);
    setText(root, "clients_label", f.clients_label);
    root.querySelectorAll('[data-field="stopped"]').forEach(function (note) { note.hidden = !f.stopped; });
    setText(root, "min_clients", f.min_clients);
    setText(root, "fraction_fit", Number(f.fraction_fit).toFixed(2));
    setText(root, "completed_rounds", f.completed_rounds);
    setText(root, "download_count", Number(f.download_count).toLocaleString("en-US"));
    setText(root, "avg_round_duration", seconds(f.avg_round_duration));
    setText(root, "run_rounds", f.run_rounds);
    setText(root, "run_avg_duration", seconds(f.run_avg_duration));
    root.querySelectorAll('[data-field="progress"]').forEach(function (bar) {
      bar.style.width = f.progress + "%";
      if (bar.parentElement) bar.parentElement.setAttribute("aria-valuenow", f.progress);
    });
    root.querySelectorAll('[data-field="last_update"]').forEach(function (cell) {
      cell.replaceChildren();
      if (f.last_update) {
        const time = document.createElement("time");
        time.setAttribute("datetime", f.last_update);
        time.textContent = relativeTime(f.last_update);
        cell.appendChild(time);
      } else {
        cell.textContent = "never";
      }
    });
  }

  // A WebSocket that reconnects with backoff; the server resends the current state on connect.
  function subscribe(path, onMessage) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let delay = 1000;
    function open() {
      const socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () { delay = 1000; document.body.dataset.live = "connected"; };
      socket.onmessage = function (event) { onMessage(JSON.parse(event.data)); };
      socket.onclose = function () {
        document.body.dataset.live = "disconnected";
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    open();
  }

  // Learning curves: loss, the reported metrics, and round duration, one chart each.
  function Curves(container) {
    const charts = {};
    let run = null;

    function chart(name, label) {
      if (charts[name]) return charts[name];
      const card = document.createElement("div");
      card.className = "col-md-4";
      card.innerHTML = '<div class="card"><div class="card-body"><h2 class="h6"></h2><canvas></canvas></div></div>';
      card.querySelector("h2").textContent = label;
      card.querySelector("canvas").dataset.chart = name;
      container.appendChild(card);
      charts[name] = new Chart(card.querySelector("canvas"), {
        type: "line",
        data: { labels: [], datasets: [] },
        options: { animation: false, responsive: true, scales: { x: { title: { display: true, text: "round" } } } },
      });
      return charts[name];
    }

    function addPoint(c, round, series, value) {
      if (value === null || value === undefined) return;
      let dataset = c.data.datasets.find(function (d) { return d.label === series; });
      if (!dataset) {
        dataset = { label: series, data: [], tension: 0.2, pointRadius: 2 };
        c.data.datasets.push(dataset);
      }
      if (!c.data.labels.includes(round)) c.data.labels.push(round);
      c.data.labels.sort(function (a, b) { return a - b; });
      dataset.data = dataset.data.filter(function (p) { return p.x !== round; });
      dataset.data.push({ x: round, y: value });
      dataset.data.sort(function (a, b) { return a.x - b.x; });
    }

    function reset() {
      Object.values(charts).forEach(function (c) { c.data.labels = []; c.data.datasets = []; c.update(); });
    }

    this.add = function (point) {
      if (run !== null && point.run !== run) reset();
      run = point.run;
      container.closest("[data-curves]").hidden = false;
      setText(document, "current_run", point.run);
      addPoint(chart("loss", "Loss"), point.round, "loss", point.loss);
      Object.keys(point.metrics || {}).sort().forEach(function (name) {
        addPoint(chart("metrics", "Metrics"), point.round, name, point.metrics[name]);
      });
      addPoint(chart("duration", "Round duration (s)"), point.round, "duration", point.duration);
      Object.values(charts).forEach(function (c) { c.update(); });
      container.dataset.points = String(Math.max(Number(container.dataset.points || 0), charts.duration.data.labels.length));
    };
    this.replace = function (points) {
      reset();
      run = null;
      container.dataset.points = "0";
      points.forEach(this.add, this);
    };
  }

  // Pushes can cross on their way: keep each federation's highest live_version, apply nothing older.
  const versions = {};
  function fresh(state) {
    if ((versions[state.id] || -1) > state.live_version) return false;
    versions[state.id] = state.live_version;
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    renderTimes(document);
    setInterval(function () { renderTimes(document); }, 15000);

    const page = document.querySelector("[data-live-federation]");
    if (page) {
      const id = Number(page.dataset.liveFederation);
      const curves = new Curves(page.querySelector("[data-curves-grid]"));
      const initial = document.getElementById("round-history");
      if (initial) curves.replace(JSON.parse(initial.textContent));
      // The curves show one run: a state of a new run clears them, and points of another run are not drawn.
      const runField = page.querySelector('[data-field="current_run"]');
      let run = runField ? runField.textContent : "";
      subscribe("/ws/federations/" + id + "/", function (message) {
        (message.federations || []).filter(fresh).forEach(function (state) {
          if (state.id === id && state.current_run !== run) { run = state.current_run; curves.replace([]); }
          patch(document, state);
        });
        if (message.history) curves.replace(message.history);
        (message.rounds || []).forEach(function (point) {
          if (point.federation === id && point.run === run) curves.add(point);
        });
      });
      return;
    }
    const catalog = document.querySelector("[data-live-catalog]");
    if (catalog) {
      const rows = {};
      catalog.querySelectorAll("tr[data-federation]").forEach(function (row) {
        (rows[row.dataset.federation] = rows[row.dataset.federation] || []).push(row);
      });
      // Federations listed since the page was made that its search and filters would show, not on it: counted
      // in a notice whose link opens the first page of the same search.
      const listed = new Set();
      const notice = catalog.querySelector('[data-testid="listed"]');
      const query = new URLSearchParams(location.search);
      query.set("ids", Object.keys(rows).join(","));
      query.set("since", catalog.dataset.made);
      subscribe("/ws/catalog/?" + query.toString(), function (message) {
        (message.federations || []).filter(fresh).forEach(function (state) {
          (rows[state.id] || []).forEach(function (row) { patch(row, state); });
        });
        (message.listed || []).forEach(function (id) { if (!rows[id]) listed.add(id); });
        if (listed.size && notice) {
          notice.querySelector("[data-listed-count]").textContent = listed.size;
          notice.querySelector("[data-listed-plural]").hidden = listed.size === 1;
          notice.hidden = false;
        }
      });
    }
  });
})();
