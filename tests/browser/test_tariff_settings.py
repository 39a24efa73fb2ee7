"""The tariff form in chromium: a price change from a future day with a demand
charge is saved as a second version, listed, and deleted again."""

from datetime import timedelta

import pandas as pd
from fixtures_web import browser_login, start_app
from selenium.webdriver.common.by import By

from energy_dash.services import costs

SET_VALUE = (
    "const setter = Object.getOwnPropertyDescriptor("
    "HTMLInputElement.prototype, 'value').set;"
    "setter.call(arguments[0], arguments[1]);"
    "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
)


def fill(dash_duo, selector: str, value: str) -> None:
    """Type into a React-controlled input as a user would (date inputs too)."""
    dash_duo.driver.execute_script(SET_VALUE, dash_duo.find_element(selector), value)


def click(dash_duo, element) -> None:
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        element,
    )
    element.click()


def test_a_future_price_change_is_saved_listed_and_deleted(
    dash_duo, app, facility, make_user, database_url
):
    make_user("olga", facility=facility, facility_role="operator")
    today = pd.Timestamp.now(tz="Europe/Berlin").date()
    later = (today + timedelta(days=40)).isoformat()
    start_app(dash_duo, app)
    browser_login(dash_duo, "olga", next_path="/settings")
    dash_duo.wait_for_element("#tariff-demand-charge")
    assert dash_duo.find_element("#tariff-valid-from").get_attribute("value") == (
        today.isoformat())
    click(dash_duo, dash_duo.find_element("#tariff-save"))
    dash_duo.wait_for_contains_text("#tariff-status", "Tariff saved, valid from today")

    fill(dash_duo, "#tariff-import-price", "0.36")
    fill(dash_duo, "#tariff-demand-charge", "12")
    fill(dash_duo, "#tariff-valid-from", later)
    click(dash_duo, dash_duo.find_element("#tariff-save"))
    dash_duo.wait_for_text_to_equal(
        "#tariff-status",
        f"Tariff saved, valid from {later}: import 0.36 EUR/kWh, export 0.08 "
        "EUR/kWh, demand charge 12 EUR/kW/month.",
    )
    dash_duo.wait_for_contains_text("#tariff-versions", f"from {later}")
    rows = dash_duo.find_elements("#tariff-versions tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [
        today.isoformat(), later]
    assert "12 EUR/kW/month" in rows[1].text and "current" in rows[0].text
    assert costs.get_tariff(facility, database_url=database_url)["import_price"] == (
        0.3)

    click(dash_duo, rows[1].find_element(By.TAG_NAME, "button"))
    dash_duo.wait_for_text_to_equal(
        "#tariff-status", f"The price change from {later} was deleted.")
    assert len(dash_duo.find_elements("#tariff-versions tbody tr")) == 1
    assert [v["valid_from"] for v in costs.tariff_versions(
        facility, database_url=database_url)] == [today]
    assert dash_duo.get_logs() == []
