/* /historical: a date typed into a box of the custom range counts at once.
 *
 * Dash's date picker commits typed text only on Enter or Tab: typing a start
 * date and clicking into the end box (or anywhere else) left the box showing one
 * range while the page computed another. Here every complete ISO date typed into
 * a box becomes that picker's ``date`` (dash_clientside.set_props), and a box
 * left holding something that is not a date becomes empty, so the page says
 * "Choose a start date" instead of computing a range nobody sees.
 */
(function () {
    "use strict";
    var BOXES = {"historical-start": true, "historical-end": true};
    var timers = {};

    function isoDate(text) {
        var m = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/.exec(text || "");
        if (!m) { return null; }
        var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
        if (d.getUTCFullYear() !== +m[1] || d.getUTCMonth() !== +m[2] - 1 ||
                d.getUTCDate() !== +m[3]) {
            return null;
        }
        return m[1] + "-" + m[2] + "-" + m[3];
    }

    function send(id, value) {
        var dc = window.dash_clientside;
        if (dc && dc.set_props) { dc.set_props(id, {date: value}); }
    }

    document.addEventListener("input", function (event) {
        var box = event.target, id = box && box.id;
        if (!BOXES[id]) { return; }
        clearTimeout(timers[id]);
        var day = isoDate(box.value);
        if (day) { timers[id] = setTimeout(function () { send(id, day); }, 300); }
    }, true);

    document.addEventListener("focusout", function (event) {
        var box = event.target, id = box && box.id;
        if (!BOXES[id]) { return; }
        clearTimeout(timers[id]);
        var day = isoDate(box.value);
        if (day) { send(id, day); } else if (box.value.trim()) { send(id, null); }
    }, true);
})();
