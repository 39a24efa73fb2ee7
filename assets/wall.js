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

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.energyWall = {
            tick: function (n, store) {
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
