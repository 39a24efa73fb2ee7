/* Chart type that grows with the page's type on big screens.
 *
 * Plotly sizes text in pixels; pages.css scales the root font from 16 px (up to
 * 1920 px wide) to 24 px (3840 px). Every chart outside the wall (which scales
 * itself, wall.js) gets the same factor after each draw.
 */
(function () {
    "use strict";
    var BASE = 12;  // Plotly's default font size [px]

    function factor() {
        var root = parseFloat(getComputedStyle(document.documentElement).fontSize);
        return (root || 16) / 16;
    }

    function scale(gd) {
        if (!window.Plotly || !gd._fullLayout) { return; }
        var want = Math.round(BASE * factor());
        var layout = gd.layout || {};
        var has = (layout.font && layout.font.size) || BASE;
        if (has === want || (gd._edScaled === want && has === want)) { return; }
        gd._edScaled = want;
        window.Plotly.relayout(gd, {"font.size": want});
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
