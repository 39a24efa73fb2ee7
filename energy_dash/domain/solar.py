"""Solar geometry of a site: where the sun is and what a clear sky delivers.

Pure functions over timestamps (pvlib underneath, fully offline: the Linke
turbidity and altitude tables ship with pvlib). Energy series label each
interval by its start, so every figure here is for the interval
``[start, end)``, sampled at least every 30 minutes inside it and at both bounds.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SAMPLE = pd.Timedelta(minutes=30)


def check_location(location: object) -> tuple[float, float]:
    """``(latitude, longitude)`` in degrees as floats, or ValueError naming the part."""
    try:
        lat, lon = (float(v) for v in location)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"location must be (latitude, longitude) in degrees, got {location!r}"
        ) from exc
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude must be between -90 and 90 degrees, got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude must be between -180 and 180 degrees, got {lon!r}")
    return lat, lon


@lru_cache(maxsize=256)
def site_altitude(latitude: float, longitude: float) -> float:
    """Altitude [m] of the site from pvlib's bundled table (0 when unavailable)."""
    try:
        from pvlib.location import lookup_altitude

        return float(lookup_altitude(latitude, longitude))
    except Exception:  # pragma: no cover - older pvlib without the table
        return 0.0


def solar_elevation(
    times: pd.DatetimeIndex, latitude: float, longitude: float
) -> np.ndarray:
    """Apparent solar elevation [degrees] (refraction included) at ``times``."""
    from pvlib.solarposition import get_solarposition

    altitude = site_altitude(latitude, longitude)
    pos = get_solarposition(times.tz_convert("UTC"), latitude, longitude, altitude)
    return pos["apparent_elevation"].to_numpy(dtype=float)


def clear_sky(
    starts: pd.DatetimeIndex,
    ends: pd.DatetimeIndex,
    latitude: float,
    longitude: float,
) -> pd.DataFrame:
    """Clear-sky irradiance and daylight of each interval ``[start, end)``.

    Parameters
    ----------
    starts, ends : pd.DatetimeIndex
        Interval bounds (tz-aware, same length).
    latitude, longitude : float
        Site position [degrees].

    Returns
    -------
    pd.DataFrame
        On ``starts``: ``ghi_clear`` mean clear-sky global horizontal
        irradiance over the interval [W/m²] (Ineichen with pvlib's Linke
        turbidity), ``elevation_max`` highest apparent solar elevation at the
        sample points including both bounds [degrees], and ``sun_up``
        (``elevation_max > 0``): False means the sun stays below the horizon for
        the whole interval.
    """
    from pvlib.location import Location

    lat, lon = check_location((latitude, longitude))
    if len(starts) != len(ends):
        raise ValueError("starts and ends must have the same length")
    if len(starts) == 0:
        return pd.DataFrame(
            {"ghi_clear": [], "elevation_max": [], "sun_up": []}, index=starts
        )
    widths = (ends - starts).to_numpy()
    longest = pd.Timedelta(widths.max())
    samples = max(1, math.ceil(longest / SAMPLE))
    start_ns = starts.tz_convert("UTC").asi8
    width_ns = widths.astype("timedelta64[ns]").astype(np.int64)
    fractions = (np.arange(samples) + 0.5) / samples
    offsets = (width_ns[:, None] * fractions[None, :]).astype(np.int64)
    inner = start_ns[:, None] + offsets
    bounds = np.stack([start_ns, start_ns + width_ns], axis=1)
    points = np.concatenate([inner, bounds], axis=1)  # (n, samples + 2)
    flat = pd.DatetimeIndex(points.ravel(), tz="UTC")
    unique, inverse = np.unique(flat.asi8, return_inverse=True)
    times = pd.DatetimeIndex(unique, tz="UTC")
    site = Location(lat, lon, tz="UTC", altitude=site_altitude(lat, lon))
    from pvlib.solarposition import get_solarposition

    position = get_solarposition(times, lat, lon, site.altitude)
    sky = site.get_clearsky(times, model="ineichen", solar_position=position)
    ghi = np.nan_to_num(sky["ghi"].to_numpy(dtype=float))[inverse].reshape(points.shape)
    elev = position["apparent_elevation"].to_numpy(dtype=float)[inverse]
    elev = elev.reshape(points.shape)
    ghi_mean = np.clip(ghi[:, :samples].mean(axis=1), 0.0, None)
    elev_max = elev.max(axis=1)
    sun_up = elev_max > 0.0
    ghi_mean[~sun_up] = 0.0
    return pd.DataFrame(
        {"ghi_clear": ghi_mean, "elevation_max": elev_max, "sun_up": sun_up},
        index=starts,
    )
