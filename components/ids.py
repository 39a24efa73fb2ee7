"""Every component id of the shell, settings and profile (one place, no typos).

Pages read the selected facility with ``Input(ids.FACILITY, "value")`` (an int, or
None before the user belongs to a facility) and the URL with
``Input(ids.URL, "pathname")`` / ``Input(ids.URL, "search")``.

Wall components: every id of the /wall page (or the ``type`` of a
pattern-matching id) starts with ``wall`` — the login gate lets a display-token
session run exactly those callbacks.
"""

# Shell
URL = "url"
NAVBAR = "navbar"
NAVBAR_TOGGLER = "navbar-toggler"
NAVBAR_COLLAPSE = "navbar-collapse"
NAV_LINKS = "nav-links"
FACILITY = "facility-select"
FACILITY_STORE = "facility-store"  # localStorage: the last chosen facility id
FACILITY_WRAPPER = "facility-select-wrapper"
THEME_TOGGLE = "theme-toggle"
THEME_ICON = "theme-icon"
THEME_STORE = "theme-store"  # localStorage: "light" | "dark"
THEME_CHOICE = "theme-choice"  # memory: set only when the user clicks the toggle
THEME_SAVED = "theme-saved"
PROFILE_STORE = "profile-store"  # memory: {"username", "theme", "avatar"} or {}
USER_MENU = "user-menu"
MAIN = "main-content"
SHELL_DUMMY = "shell-dummy"
FACILITY_REFRESH = "facility-refresh"  # memory: bump to reload the facility list

# Landing page
HOME_CTA = "home-cta"

# Settings page
SETTINGS_FACILITY_TITLE = "settings-facility-title"
SETTINGS_READONLY = "settings-readonly-note"
SETTINGS_ALERT = "settings-alert"
SET_NAME = "settings-name"
SET_LOCATION = "settings-location"
SET_CAPACITY = "settings-capacity-kw"
SET_PANELS = "settings-panel-count"
SET_LATITUDE = "settings-latitude"
SET_LONGITUDE = "settings-longitude"
SET_TIMEZONE = "settings-timezone"
SET_VOLTAGE = "settings-nominal-voltage"
SET_INTERVAL = "settings-interval"
SET_WARNING = "settings-warning-pct"
SET_CRITICAL = "settings-critical-pct"
SET_HYSTERESIS = "settings-hysteresis-pct"
SET_SAVE = "settings-save"
SET_SAVE_STATUS = "settings-save-status"
KEY_NAME = "settings-key-name"
KEY_CREATE = "settings-key-create"
KEY_SECRET = "settings-key-secret"
KEY_TABLE = "settings-key-table"
KEY_REVOKE = "settings-key-revoke"  # pattern: {"type": KEY_REVOKE, "index": key id}
TOKEN_NAME = "settings-token-name"
TOKEN_CREATE = "settings-token-create"
TOKEN_SECRET = "settings-token-secret"
TOKEN_TABLE = "settings-token-table"
TOKEN_REVOKE = "settings-token-revoke"  # pattern: {"type": TOKEN_REVOKE, "index": id}
MEMBERS_SECTION = "settings-members"
MEMBER_USERNAME = "settings-member-username"
MEMBER_ROLE = "settings-member-role"
MEMBER_ADD = "settings-member-add"
MEMBER_TABLE = "settings-member-table"
MEMBER_ROLE_SELECT = "settings-member-role-select"  # pattern: {"type", "index": uid}
MEMBER_REMOVE = "settings-member-remove"  # pattern: {"type", "index": user id}
MEMBER_STATUS = "settings-member-status"
SETTINGS_REFRESH = "settings-refresh"
FORECAST_SLOT_STATUS = "settings-forecast-slot"
NEW_FACILITY_NAME = "settings-new-facility-name"
NEW_FACILITY_TZ = "settings-new-facility-tz"
NEW_FACILITY_INTERVAL = "settings-new-facility-interval"
NEW_FACILITY_CAPACITY = "settings-new-facility-capacity"
NEW_FACILITY_CREATE = "settings-new-facility-create"
NEW_FACILITY_STATUS = "settings-new-facility-status"
BIND_SECTION = "settings-bindings"  # hidden for viewers (meter wiring is admin work)
TOPIC_STATUS = "settings-topic-status"
INFLUX_STATUS = "settings-influx-status"
BIND_REMOVE = "settings-bind-remove"  # pattern: index "topic:ID" or "influx:ID"
TOPIC_FILTER = "settings-topic-filter"
TOPIC_FORMAT = "settings-topic-format"
TOPIC_ROLE = "settings-topic-role"
TOPIC_DEVICE = "settings-topic-device"
TOPIC_CREATE = "settings-topic-create"
TOPIC_TABLE = "settings-topic-table"
INFLUX_MEASUREMENT = "settings-influx-measurement"
INFLUX_TAGS = "settings-influx-tags"
INFLUX_FIELD = "settings-influx-field"
INFLUX_ROLE = "settings-influx-role"
INFLUX_KIND = "settings-influx-kind"
INFLUX_UNIT = "settings-influx-unit"
INFLUX_DEVICE = "settings-influx-device"
INFLUX_CREATE = "settings-influx-create"
INFLUX_TABLE = "settings-influx-table"
TARIFF_SETTINGS = "tariff-settings"  # the forecasting engineer's section

# Profile page
PROFILE_USERNAME = "profile-username"
PROFILE_EMAIL = "profile-email"
PROFILE_SAVE = "profile-save"
PROFILE_STATUS = "profile-status"
PW_CURRENT = "profile-password-current"
PW_NEW = "profile-password-new"
PW_CONFIRM = "profile-password-confirm"
PW_SAVE = "profile-password-save"
PW_STATUS = "profile-password-status"
AVATAR_UPLOAD = "profile-avatar-upload"
AVATAR_IMG = "profile-avatar-img"
AVATAR_STATUS = "profile-avatar-status"
PROFILE_THEME = "profile-theme"
NOTIFY_FACILITIES = "profile-notify-facilities"
NOTIFY_LEVELS = "profile-notify-levels"
NOTIFY_EMAIL = "profile-notify-email"
NOTIFY_WEBHOOK = "profile-notify-webhook"
NOTIFY_QUIET_FROM = "profile-notify-quiet-from"
NOTIFY_QUIET_TO = "profile-notify-quiet-to"
NOTIFY_SAVE = "profile-notify-save"
NOTIFY_STATUS = "profile-notify-status"
PROFILE_REFRESH = "profile-refresh"
