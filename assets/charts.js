/* Chart type that grows with the page's type on big screens.
 *
 * Plotly sizes text in pixels; pages.css scales the root font from 16 px (up to
 * 1920 px wide) to 24 px (3840 px). Every chart outside the wall (which scales
 * itself, wall.js) gets the same factor.
 *
 * The sizes are put into each figure just before Plotly draws it (hooks in
 * window.energyCharts.beforeDraw), so a big screen costs one draw, not a draw
 * and a relayout; the check after each draw only catches what changed since
 * (a window resized, a phone turned).
 */
(function () {
    "use strict";
    var BASE = 12;  // Plotly's default font size [px]

    function factor() {
        var root = parseFloat(getComputedStyle(document.documentElement).fontSize);
        return (root || 16) / 16;
    }

    // Set "a.b" = value in a layout (objects created on the way).
    function setPath(obj, path, value) {
        var keys = path.split(".");
        for (var i = 0; i < keys.length - 1; i++) {
            if (!obj[keys[i]] || typeof obj[keys[i]] !== "object") { obj[keys[i]] = {}; }
            obj = obj[keys[i]];
        }
        obj[keys[keys.length - 1]] = value;
    }

    var hooks = [];
    window.energyCharts = {beforeDraw: hooks, setPath: setPath};

    // dcc.Graph draws with Plotly.react(gd, figure): let every hook adjust the
    // figure first. Plotly is defined by a later script, so wrap it once the
    // document's scripts have all run (before any figure arrives from the server).
    function wrapPlotly() {
        var P = window.Plotly;
        if (!P || P._edWrapped) { return; }
        P._edWrapped = true;
        ["react", "newPlot"].forEach(function (name) {
            var draw = P[name];
            P[name] = function (gd, figure) {
                if (gd && gd.closest && figure && figure.layout && !Array.isArray(figure)) {
                    hooks.forEach(function (hook) {
                        try { hook(gd, figure); } catch (e) { /* draw anyway */ }
                    });
                }
                return draw.apply(this, arguments);
            };
        });
    }
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", wrapPlotly);
    } else {
        wrapPlotly();
    }

    hooks.push(function (gd, figure) {
        if (gd.closest("#wall-chart")) { return; }
        var want = Math.round(BASE * factor());
        var font = figure.layout.font || {};
        if ((font.size || BASE) !== want) { setPath(figure.layout, "font.size", want); }
    });

    function scale(gd) {
        if (!window.Plotly || !gd._fullLayout) { return; }
        var want = Math.round(BASE * factor());
        var layout = gd.layout || {};
        var update = {};
        var has = (layout.font && layout.font.size) || BASE;
        if (has !== want) { update["font.size"] = want; }
        // Narrow charts (phones): fewer, upright time labels instead of a
        // column of labels turned on their side.
        var width = gd.getBoundingClientRect().width;
        var x = layout.xaxis || {};
        var dates = gd._fullLayout.xaxis && gd._fullLayout.xaxis.type === "date";
        if (width && width < 520 && !x.dtick && dates) {
            var ticks = Math.max(3, Math.floor(width / 90));
            if (x.nticks !== ticks) { update["xaxis.nticks"] = ticks; }
            if (x.tickangle !== 0) { update["xaxis.tickangle"] = 0; }
            // no toolbar on phones (pages.css): the right margin can go
            var margin = layout.margin || {};
            if (!layout.yaxis2 && margin.r !== 12) {
                gd._edMarginR = margin.r;
                update["margin.r"] = 12;
            }
            gd._edNarrow = true;
        } else if (gd._edNarrow) {
            // Wider again (a phone turned, a window resized): Plotly's own ticks.
            update["xaxis.nticks"] = null;
            update["xaxis.tickangle"] = null;
            if (gd._edMarginR !== undefined) { update["margin.r"] = gd._edMarginR; }
            gd._edNarrow = false;
        }
        if (Object.keys(update).length) { window.Plotly.relayout(gd, update); }
    }

    function attach() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (gd.closest("#wall-chart")) { return; }
            if (!gd._edHooked && gd.on) {
                gd._edHooked = true;
                gd.on("plotly_afterplot", function () {
                    setTimeout(function () { scale(gd); }, 0);
                });
            }
            scale(gd);
        });
    }

    setInterval(attach, 1000);
    window.addEventListener("resize", function () { setTimeout(attach, 100); });
})();
