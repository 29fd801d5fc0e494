"""Make every pose source look like the one canonical training skeleton.

The canonical skeleton is NTU RGB+D's Kinect v2 layout (:class:`NTU25`, 25
joints) in Kinect camera space: metres, x to the sensor's left, y up,
z forward. Three steps get any source there:

1. :mod:`calibration.layouts`: each source's joint order as an ``IntEnum``
   with its bones (:data:`LAYOUTS`, :func:`get_layout`);
2. :func:`to_canonical` (:mod:`calibration.mapping`): reorder, convert axes
   and units, and derive the joints a source lacks;
3. :mod:`calibration.normalize`: fill gaps, resample in time, and put the
   body in a fixed frame, the same way for training and live use.

Example::

    canonical = to_canonical(world_landmarks, "mediapipe33")  # (T, 25, 3)
    window = apply_normalization(canonical, NormalizationConfig(fps=30.0), timestamps_s)
"""

from calibration.layouts import (
    LAYOUTS,
    SBU15,
    AzureKinect32,
    HDM05Mocap31,
    KinectV1,
    Layout,
    MediaPipe33,
    NTU25,
    UTDMHAD20,
    get_layout,
)
from calibration.mapping import to_canonical
from calibration.normalize import (
    NormalizationConfig,
    apply_normalization,
    fill_missing,
    normalize_body,
    resample,
    resample_times,
)

__all__ = [
    "LAYOUTS",
    "AzureKinect32",
    "HDM05Mocap31",
    "KinectV1",
    "Layout",
    "MediaPipe33",
    "NTU25",
    "NormalizationConfig",
    "SBU15",
    "UTDMHAD20",
    "apply_normalization",
    "fill_missing",
    "get_layout",
    "normalize_body",
    "resample",
    "resample_times",
    "to_canonical",
]
