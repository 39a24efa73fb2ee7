/* Energy Dash wall display: clientside helpers (no server round trip).
 *
 * tick(n, store) -> [clock text, stale badge style, stale badge text]
 *   The facility's local clock (IANA zone from the store) and a "data stale"
 *   badge when the newest reading is older than twice the expected interval.
 *   Both keep working while the server is unreachable.
 */
(function () {
    "use strict";
    var formats = {};

    function formatter(tz) {
        if (!formats[tz]) {
            try {
                formats[tz] = new Intl.DateTimeFormat("en-GB", {
                    timeZone: tz, weekday: "short", day: "numeric", month: "short",
                    hour: "2-digit", minute: "2-digit", hour12: false
                });
            } catch (e) {
                formats[tz] = new Intl.DateTimeFormat("en-GB", {
                    timeZone: "UTC", weekday: "short", day: "numeric",
                    month: "short", hour: "2-digit", minute: "2-digit", hour12: false
                });
            }
        }
        return formats[tz];
    }

    function ago(ms) {
        var s = Math.max(0, Math.round(ms / 1000));
        if (s < 120) { return s + " s"; }
        if (s < 7200) { return Math.round(s / 60) + " min"; }
        if (s < 172800) { return Math.round(s / 3600) + " h"; }
        return Math.round(s / 86400) + " d";
    }

    // Chart type sized from the screen: Plotly takes pixels only, so the wall's
    // chart fonts follow the viewport height (about 2 % of it) after every draw.
    function chartFont() {
        return Math.round(Math.max(13, Math.min(64, window.innerHeight * 0.02)));
    }

    // The chart's sizes for this screen: line width and layout paths.
    function wallStyle(gd) {
        var size = chartFont();
        var width = gd.getBoundingClientRect().width || window.innerWidth;
        return {
            size: size,
            ticks: Math.max(3, Math.min(12, Math.floor(width / (size * 5)))),
            line: Math.max(2, Math.round(size / 10)),
            layout: {
                "xaxis.tickangle": 0,
                "font.size": size,
                "legend.font.size": Math.round(size * 1.1),
                "margin.l": Math.round(size * 4.2),
                "margin.b": Math.round(size * 2.6),
                "margin.t": Math.round(size * 3),
                "margin.r": Math.round(size * 1.4)
            }
        };
    }

    // Before the first draw (charts.js calls this hook): the figure arrives
    // already sized, so the wall is drawn once, not drawn and then relaid out.
    if (window.energyCharts) {
        window.energyCharts.beforeDraw.push(function (gd, figure) {
            if (!gd.closest("#wall-chart")) { return; }
            var style = wallStyle(gd);
            var layout = figure.layout;
            Object.keys(style.layout).forEach(function (path) {
                window.energyCharts.setPath(layout, path, style.layout[path]);
            });
            window.energyCharts.setPath(layout, "xaxis.nticks", style.ticks);
            (figure.data || []).forEach(function (trace) {
                trace.line = Object.assign({}, trace.line, {width: style.line});
            });
        });
    }

    var tries = 0;

    // After each draw: only a changed screen (resize) still needs a relayout.
    function scaleChart() {
        var gd = document.querySelector("#wall-chart .js-plotly-plot");
        if (!gd || !window.Plotly || !gd.layout || !gd._fullLayout) {
            // The first figure arrives after the page: look again shortly.
            if (tries++ < 60) { setTimeout(scaleChart, 250); }
            return;
        }
        tries = 0;
        if (!gd._wallScaled) {
            gd._wallScaled = true;
            gd.on("plotly_afterplot", function () { setTimeout(scaleChart, 0); });
        }
        var style = wallStyle(gd);
        var font = gd.layout.font || {};
        if (font.size === style.size && gd.layout.xaxis &&
                gd.layout.xaxis.nticks === style.ticks) { return; }
        window.Plotly.restyle(gd, {"line.width": style.line});
        var update = Object.assign({"xaxis.nticks": style.ticks}, style.layout);
        window.Plotly.relayout(gd, update);
    }
    window.addEventListener("resize", function () { setTimeout(scaleChart, 50); });

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.energyWall = {
            tick: function (n, store) {
                setTimeout(scaleChart, 0);
                var now = Date.now();
                var tz = (store && store.tz) || "UTC";
                var clock = formatter(tz).format(new Date(now));
                var hidden = {"display": "none"};
                if (!store || !store.facility) {
                    return [clock, hidden, ""];
                }
                if (store.last_ms === null || store.last_ms === undefined) {
                    return [clock, {"display": "inline-block"}, "no data yet"];
                }
                var age = now - store.last_ms;
                if (age > (store.stale_ms || 600000)) {
                    return [clock, {"display": "inline-block"},
                            "data stale · last reading " + ago(age) + " ago"];
                }
                return [clock, hidden, ""];
            }
    };
})();
