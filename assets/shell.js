/* Clientside callbacks of the shell (callbacks/shell.py): navbar, facility, theme. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    ed_shell: {
        navbarClass: function (pathname) {
            var base = "app-navbar border-bottom";
            var path = (pathname || "/").replace(/\/+$/, "") || "/";
            return (path === "/" || path === "/wall") ? base + " d-none" : base;
        },

        toggleCollapse: function (clicks, isOpen) {
            return clicks ? !isOpen : isOpen;
        },

        rememberFacility: function (value) {
            if (value === null || value === undefined) {
                return window.dash_clientside.no_update;
            }
            return value;
        },

        applyTheme: function (clicks, profile, pathname, search, stored) {
            var ctx = window.dash_clientside.callback_context;
            var fired = (ctx.triggered || []).map(function (t) { return t.prop_id; });
            var noUpdate = window.dash_clientside.no_update;
            var root = document.documentElement;
            var theme = (stored === "dark" || stored === "light") ? stored : "light";
            var choice = noUpdate;
            if (fired.indexOf("theme-toggle.n_clicks") >= 0 && clicks) {
                var shown = root.getAttribute("data-bs-theme") || theme;
                theme = shown === "dark" ? "light" : "dark";
                choice = {theme: theme, at: Date.now()};
            } else if (fired.indexOf("profile-store.data") >= 0 && profile &&
                       (profile.theme === "dark" || profile.theme === "light")) {
                theme = profile.theme;
            }
            var applied = theme;
            var path = (pathname || "/").replace(/\/+$/, "") || "/";
            if (path === "/wall") {
                applied = /(^|[?&])theme=light(&|$)/.test(search || "") ? "light" : "dark";
            }
            root.setAttribute("data-bs-theme", applied);
            document.cookie = "energy_dash_theme=" + theme +
                ";path=/;max-age=31536000;SameSite=Lax" +
                (window.location.protocol === "https:" ? ";Secure" : "");
            var icon = applied === "dark" ? "bi bi-sun" : "bi bi-moon-stars";
            return [theme, choice, icon];
        }
    }
});
