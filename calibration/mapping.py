"""Map any supported pose source onto the canonical NTU25 skeleton.

Output: NTU25 joint order, float32, metres, Kinect camera axes (x to the
sensor's left, y up, z forward). For a subject facing the camera this puts
the subject's left side at smaller x than the right side, exactly as the raw
NTU RGB+D recordings have it.

Axes and units per source:

==============  ==============================================================
source          conversion to Kinect camera space
==============  ==============================================================
ntu25           none (copied)
kinect_v1       none: Kinect v1 skeleton space has the same axes, in metres
utd_mhad        none (Kinect v1); only the joint order differs
mediapipe33     world landmarks (x right, y down, z away, metres; hips
                or camera at the origin): (X, Y, Z) = (-x, -y, z), a half
                turn about z, so left stays left; never mirror the frames
                before pose estimation
azure_kinect32  depth camera space (x right, y down, z forward, millimetres):
                (X, Y, Z) = (-x, -y, z) / 1000
hdm05_mocap31   mocap world (y up, metres; the ASF rest pose faces +z with
                its left at +x): (X, Y, Z) = (-x, y, -z), a half turn about
                y, so the rest pose faces the camera and left stays left
sbu15           none: the loader has already turned SBU's normalised values
                into Kinect v1 real-world metres with Kinect's axes
==============  ==============================================================

Derived joints. Where a source has no joint at an NTU position, one is built
from the source's joints so that the result has NTU's proportions. The
constants below are medians measured on the five raw NTU samples in
``../shared/data/ntu_samples`` (447 frames) and, for MediaPipe, on MediaPipe
Pose 0.10.14 world landmarks of the two sample videos (one is NTU performer
P001, camera C001, the same person and view as the first NTU sample). HDM05
figures are medians over 27 of its clips (every 12th of each subject's), SBU
figures over both persons of every 6th clip (its NECK and TORSO over all 282).
Lengths are compared after dividing by the summed length of the eight limb
bones (upper arms, forearms, thighs, shins), which every source measures
directly.

- ``SPINE_SHOULDER_RAISE``: Kinect v2 puts SpineBase at the hip midpoint but
  SpineShoulder 0.03-0.14 (median 0.07) spine lengths above the shoulder
  midpoint, along the trunk.
- ``SPINE_MID_FRACTION``: SpineMid sits 0.57 of the way from SpineBase to
  SpineShoulder.
- ``NECK_FRACTION``: Neck sits 0.35 of the way from SpineShoulder to Head.
- ``HAND_TIP_EXTENSION``: |hand -> hand tip| is 0.9-1.0 x |wrist -> hand|.
- ``THUMB_EXTENSION``: |hand -> thumb| is 0.63-0.76 x |wrist -> hand|.
- ``MEDIAPIPE_HEAD_EXTENSION``: the ear midpoint sits 0.34-0.39 spine lengths
  above the shoulder midpoint, Kinect v2's head 0.44-0.49.
- ``MEDIAPIPE_HIP_WIDTH``: MediaPipe's hips are 0.084-0.090 limb units apart,
  Kinect v2's 0.049-0.065 (Kinect v1's agree with v2).
- ``MEDIAPIPE_FOOT_FRACTION``: ankle -> toe (foot index) is 0.066 limb units in
  MediaPipe, ankle -> foot 0.054 (median) in Kinect v2.
- ``HDM05_SHOULDER_WIDTH``: HDM05's shoulders (clavicle ends) are 0.167 limb
  units apart, Kinect v2's 0.120.
- ``SBU_HAND_EXTENSION``: Kinect v2's |wrist -> hand| is 0.16-0.56, median
  0.30, x |elbow -> wrist| (10 arms).
- ``SBU_FOOT_FORWARD``, ``SBU_FOOT_DROP``: Kinect v2's foot lies 0.28 shin
  lengths in front of the ankle and 0.15 below it (medians of 10 legs, in
  the body frame of up = spine, right = shoulder and hip lines).

Below, "spine shoulder" means the shoulder midpoint raised by
``SPINE_SHOULDER_RAISE`` x (shoulder midpoint - spine base).

==============  ==============  ==============================================
source          NTU joint       derivation
==============  ==============  ==============================================
kinect_v1,      SPINE_BASE      hip midpoint (v1 HIP_CENTER sits 0.17 spine
utd_mhad                        lengths above it, where v2 has no joint)
                SPINE_SHOULDER  spine shoulder
                SPINE_MID       ``SPINE_MID_FRACTION`` along base -> shoulder
                                (v1 SPINE sits only 0.16 of the way up)
                NECK            v1 SHOULDER_CENTER: it sits 0.27 spine lengths
                                above the shoulder midpoint, where v2 has its
                                neck (0.17-0.25), not its spine shoulder
                HAND_TIP        hand + ``HAND_TIP_EXTENSION`` (hand - wrist)
                THUMB           hand + ``THUMB_EXTENSION`` (hand - wrist): on
                                the forearm line, since v1 has no hand
                                orientation to place it sideways
                others          the v1 joint of the same name
mediapipe33     SPINE_BASE      hip midpoint
                SPINE_SHOULDER  spine shoulder
                SPINE_MID       ``SPINE_MID_FRACTION`` along base -> shoulder
                HEAD            shoulder midpoint + ``MEDIAPIPE_HEAD_EXTENSION``
                                (ear midpoint - shoulder midpoint)
                NECK            ``NECK_FRACTION`` along spine shoulder -> head
                HIP             hip midpoint + ``MEDIAPIPE_HIP_WIDTH``
                                (hip - hip midpoint)
                HAND            midpoint of the index and pinky knuckles: its
                                distance from the wrist (0.021-0.031 limb
                                units) matches v2's wrist -> hand (0.024-0.044)
                HAND_TIP        hand + ``HAND_TIP_EXTENSION`` (hand - wrist)
                THUMB           the thumb landmark (hand -> thumb 0.016-0.024
                                limb units, v2 0.013-0.021)
                FOOT            ``MEDIAPIPE_FOOT_FRACTION`` along ankle -> toe
                others          the landmark of the same name
azure_kinect32  SPINE_BASE      PELVIS
                SPINE_SHOULDER  spine shoulder (Azure's SPINE_CHEST lies below
                                the shoulder line and its NECK above it)
                SPINE_MID       midpoint of SPINE_NAVEL and SPINE_CHEST
                others          the Azure joint of the same name (HANDTIP for
                                HAND_TIP); no Azure recordings were at hand to
                                measure against, so these are by definition
hdm05_mocap31   SPINE_BASE      hip midpoint (the ROOT sits 0.04 limb units
                                above it)
                SPINE_SHOULDER  spine shoulder (THORAX lies below the shoulder
                                line: 0.177 limb units above the hip midpoint,
                                the shoulder midpoint 0.191)
                SPINE_MID       ``SPINE_MID_FRACTION`` along base -> shoulder
                SHOULDER        spine shoulder + ``HDM05_SHOULDER_WIDTH``
                                (clavicle end - spine shoulder)
                HEAD            HEAD, the top of the head: 0.070 limb units
                                above the spine shoulder, Kinect v2's head 0.079
                NECK            ``NECK_FRACTION`` along spine shoulder -> head:
                                UPPER_NECK would be 0.039 above the spine
                                shoulder (v2's neck 0.031) but leaves only 0.6
                                of v2's neck -> head, LOWER_NECK only 0.007
                WRIST           WRIST (the end of ``lwrist``; ``lradius`` ends
                                short of it: elbow -> FOREARM is 0.7 of v2's
                                forearm, elbow -> WRIST 0.96-0.99)
                HAND            HAND, the knuckles (wrist -> hand 0.023-0.025
                                limb units, v2 0.026-0.030)
                HAND_TIP        FINGERS, the finger tips
                THUMB           THUMB
                FOOT            FOOT, the ball of the foot (ankle -> foot
                                0.051-0.054 limb units, v2 0.053-0.055; TOE
                                would be 1.3-1.4 times v2's)
                others          the joint of the same name
sbu15           SPINE_BASE      hip midpoint
                SPINE_SHOULDER  spine shoulder (NiTE's NECK is the shoulder
                                midpoint, to 0.1 mm in every frame: dropped)
                SPINE_MID       ``SPINE_MID_FRACTION`` along base -> shoulder
                                (NiTE's TORSO is halfway from the hip midpoint
                                to its NECK, within 5 mm in 78% of frames and
                                16 mm in 99%: dropped)
                NECK            ``NECK_FRACTION`` along spine shoulder -> head
                WRIST           NiTE HAND: elbow -> HAND is 0.98 x shoulder ->
                                elbow, as v2's elbow -> wrist (0.96), not its
                                elbow -> hand (1.26)
                HAND            wrist + ``SBU_HAND_EXTENSION`` (wrist - elbow)
                HAND_TIP        hand + ``HAND_TIP_EXTENSION`` (hand - wrist)
                THUMB           hand + ``THUMB_EXTENSION`` (hand - wrist), as
                                for Kinect v1
                ANKLE           NiTE FOOT: hip -> knee is 1.04 x knee -> FOOT,
                                as v2's hip -> knee is 0.94 x knee -> ankle
                                (0.82 x knee -> foot)
                FOOT            ankle + shin length x (``SBU_FOOT_FORWARD``
                                along the body's forward direction made
                                square to the shin + ``SBU_FOOT_DROP`` down
                                the shin), so a standing foot points forward
                                and a kicking one turns with the shin
                others          the NiTE joint of the same name
==============  ==============  ==============================================

Joints a source has but NTU lacks (face points, clavicles, heels, v1 SPINE and
HIP_CENTER, the mocap back, neck, forearm and toe points, NiTE's NECK and
TORSO) are dropped. A NaN input joint makes exactly the output joints
derived from it NaN; nothing is filled here (``normalize.fill_missing`` does).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from calibration.layouts import (
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

SPINE_SHOULDER_RAISE = 0.07
SPINE_MID_FRACTION = 0.57
NECK_FRACTION = 0.35
HAND_TIP_EXTENSION = 0.9
THUMB_EXTENSION = 0.7
MEDIAPIPE_HEAD_EXTENSION = 1.2
MEDIAPIPE_HIP_WIDTH = 0.65
MEDIAPIPE_FOOT_FRACTION = 0.8
HDM05_SHOULDER_WIDTH = 0.72
SBU_HAND_EXTENSION = 0.3
SBU_FOOT_FORWARD = 0.28
SBU_FOOT_DROP = 0.15
MILLIMETRES_PER_METRE = 1000.0

# Image-style camera axes (x right, y down, z forward) to Kinect camera axes:
# a half turn about z, which keeps handedness (determinant +1).
_IMAGE_TO_KINECT_AXES = np.array([-1.0, -1.0, 1.0])
# Mocap world (y up, rest pose facing +z) to Kinect camera axes: a half turn
# about y (determinant +1), after which the rest pose faces the camera.
_MOCAP_TO_KINECT_AXES = np.array([-1.0, 1.0, -1.0])

# Joints taken over unchanged: (NTU25 joint, source joint).
_KINECT_V1_DIRECT: tuple[tuple[NTU25, KinectV1], ...] = (
    (NTU25.HEAD, KinectV1.HEAD),
    (NTU25.NECK, KinectV1.SHOULDER_CENTER),
    (NTU25.SHOULDER_LEFT, KinectV1.SHOULDER_LEFT),
    (NTU25.ELBOW_LEFT, KinectV1.ELBOW_LEFT),
    (NTU25.WRIST_LEFT, KinectV1.WRIST_LEFT),
    (NTU25.HAND_LEFT, KinectV1.HAND_LEFT),
    (NTU25.SHOULDER_RIGHT, KinectV1.SHOULDER_RIGHT),
    (NTU25.ELBOW_RIGHT, KinectV1.ELBOW_RIGHT),
    (NTU25.WRIST_RIGHT, KinectV1.WRIST_RIGHT),
    (NTU25.HAND_RIGHT, KinectV1.HAND_RIGHT),
    (NTU25.HIP_LEFT, KinectV1.HIP_LEFT),
    (NTU25.KNEE_LEFT, KinectV1.KNEE_LEFT),
    (NTU25.ANKLE_LEFT, KinectV1.ANKLE_LEFT),
    (NTU25.FOOT_LEFT, KinectV1.FOOT_LEFT),
    (NTU25.HIP_RIGHT, KinectV1.HIP_RIGHT),
    (NTU25.KNEE_RIGHT, KinectV1.KNEE_RIGHT),
    (NTU25.ANKLE_RIGHT, KinectV1.ANKLE_RIGHT),
    (NTU25.FOOT_RIGHT, KinectV1.FOOT_RIGHT),
)
_UTD_MHAD_DIRECT: tuple[tuple[NTU25, UTDMHAD20], ...] = tuple(
    (ntu, UTDMHAD20[v1.name]) for ntu, v1 in _KINECT_V1_DIRECT
)
_MEDIAPIPE_DIRECT: tuple[tuple[NTU25, MediaPipe33], ...] = (
    (NTU25.SHOULDER_LEFT, MediaPipe33.LEFT_SHOULDER),
    (NTU25.ELBOW_LEFT, MediaPipe33.LEFT_ELBOW),
    (NTU25.WRIST_LEFT, MediaPipe33.LEFT_WRIST),
    (NTU25.THUMB_LEFT, MediaPipe33.LEFT_THUMB),
    (NTU25.KNEE_LEFT, MediaPipe33.LEFT_KNEE),
    (NTU25.ANKLE_LEFT, MediaPipe33.LEFT_ANKLE),
    (NTU25.SHOULDER_RIGHT, MediaPipe33.RIGHT_SHOULDER),
    (NTU25.ELBOW_RIGHT, MediaPipe33.RIGHT_ELBOW),
    (NTU25.WRIST_RIGHT, MediaPipe33.RIGHT_WRIST),
    (NTU25.THUMB_RIGHT, MediaPipe33.RIGHT_THUMB),
    (NTU25.KNEE_RIGHT, MediaPipe33.RIGHT_KNEE),
    (NTU25.ANKLE_RIGHT, MediaPipe33.RIGHT_ANKLE),
)
_AZURE_DIRECT: tuple[tuple[NTU25, AzureKinect32], ...] = (
    (NTU25.SPINE_BASE, AzureKinect32.PELVIS),
    (NTU25.NECK, AzureKinect32.NECK),
    (NTU25.HEAD, AzureKinect32.HEAD),
    (NTU25.SHOULDER_LEFT, AzureKinect32.SHOULDER_LEFT),
    (NTU25.ELBOW_LEFT, AzureKinect32.ELBOW_LEFT),
    (NTU25.WRIST_LEFT, AzureKinect32.WRIST_LEFT),
    (NTU25.HAND_LEFT, AzureKinect32.HAND_LEFT),
    (NTU25.HAND_TIP_LEFT, AzureKinect32.HANDTIP_LEFT),
    (NTU25.THUMB_LEFT, AzureKinect32.THUMB_LEFT),
    (NTU25.SHOULDER_RIGHT, AzureKinect32.SHOULDER_RIGHT),
    (NTU25.ELBOW_RIGHT, AzureKinect32.ELBOW_RIGHT),
    (NTU25.WRIST_RIGHT, AzureKinect32.WRIST_RIGHT),
    (NTU25.HAND_RIGHT, AzureKinect32.HAND_RIGHT),
    (NTU25.HAND_TIP_RIGHT, AzureKinect32.HANDTIP_RIGHT),
    (NTU25.THUMB_RIGHT, AzureKinect32.THUMB_RIGHT),
    (NTU25.HIP_LEFT, AzureKinect32.HIP_LEFT),
    (NTU25.KNEE_LEFT, AzureKinect32.KNEE_LEFT),
    (NTU25.ANKLE_LEFT, AzureKinect32.ANKLE_LEFT),
    (NTU25.FOOT_LEFT, AzureKinect32.FOOT_LEFT),
    (NTU25.HIP_RIGHT, AzureKinect32.HIP_RIGHT),
    (NTU25.KNEE_RIGHT, AzureKinect32.KNEE_RIGHT),
    (NTU25.ANKLE_RIGHT, AzureKinect32.ANKLE_RIGHT),
    (NTU25.FOOT_RIGHT, AzureKinect32.FOOT_RIGHT),
)
_HDM05_DIRECT: tuple[tuple[NTU25, HDM05Mocap31], ...] = (
    (NTU25.HEAD, HDM05Mocap31.HEAD),
    (NTU25.ELBOW_LEFT, HDM05Mocap31.ELBOW_LEFT),
    (NTU25.WRIST_LEFT, HDM05Mocap31.WRIST_LEFT),
    (NTU25.HAND_LEFT, HDM05Mocap31.HAND_LEFT),
    (NTU25.HAND_TIP_LEFT, HDM05Mocap31.FINGERS_LEFT),
    (NTU25.THUMB_LEFT, HDM05Mocap31.THUMB_LEFT),
    (NTU25.ELBOW_RIGHT, HDM05Mocap31.ELBOW_RIGHT),
    (NTU25.WRIST_RIGHT, HDM05Mocap31.WRIST_RIGHT),
    (NTU25.HAND_RIGHT, HDM05Mocap31.HAND_RIGHT),
    (NTU25.HAND_TIP_RIGHT, HDM05Mocap31.FINGERS_RIGHT),
    (NTU25.THUMB_RIGHT, HDM05Mocap31.THUMB_RIGHT),
    (NTU25.HIP_LEFT, HDM05Mocap31.HIP_LEFT),
    (NTU25.KNEE_LEFT, HDM05Mocap31.KNEE_LEFT),
    (NTU25.ANKLE_LEFT, HDM05Mocap31.ANKLE_LEFT),
    (NTU25.FOOT_LEFT, HDM05Mocap31.FOOT_LEFT),
    (NTU25.HIP_RIGHT, HDM05Mocap31.HIP_RIGHT),
    (NTU25.KNEE_RIGHT, HDM05Mocap31.KNEE_RIGHT),
    (NTU25.ANKLE_RIGHT, HDM05Mocap31.ANKLE_RIGHT),
    (NTU25.FOOT_RIGHT, HDM05Mocap31.FOOT_RIGHT),
)
_SBU_DIRECT: tuple[tuple[NTU25, SBU15], ...] = (
    (NTU25.HEAD, SBU15.HEAD),
    (NTU25.SHOULDER_LEFT, SBU15.SHOULDER_LEFT),
    (NTU25.ELBOW_LEFT, SBU15.ELBOW_LEFT),
    (NTU25.WRIST_LEFT, SBU15.HAND_LEFT),
    (NTU25.SHOULDER_RIGHT, SBU15.SHOULDER_RIGHT),
    (NTU25.ELBOW_RIGHT, SBU15.ELBOW_RIGHT),
    (NTU25.WRIST_RIGHT, SBU15.HAND_RIGHT),
    (NTU25.HIP_LEFT, SBU15.HIP_LEFT),
    (NTU25.KNEE_LEFT, SBU15.KNEE_LEFT),
    (NTU25.ANKLE_LEFT, SBU15.FOOT_LEFT),
    (NTU25.HIP_RIGHT, SBU15.HIP_RIGHT),
    (NTU25.KNEE_RIGHT, SBU15.KNEE_RIGHT),
    (NTU25.ANKLE_RIGHT, SBU15.FOOT_RIGHT),
)

_SIDES = ("LEFT", "RIGHT")


def _lerp(a: np.ndarray, b: np.ndarray, fraction: float) -> np.ndarray:
    return a + fraction * (b - a)


def _midpoint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (a + b)


def _spine_shoulder(shoulder_mid: np.ndarray, spine_base: np.ndarray) -> np.ndarray:
    return shoulder_mid + SPINE_SHOULDER_RAISE * (shoulder_mid - spine_base)


def _unit(v: np.ndarray) -> np.ndarray:
    """v / |v| along the last axis; a zero vector stays zero rather than becoming NaN."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


def _start_canonical(src: np.ndarray, direct: tuple[tuple[int, int], ...]) -> np.ndarray:
    """A (..., 25, 3) array holding the directly taken joints; the rest is set by the caller."""
    out = np.full(src.shape[:-2] + (len(NTU25), 3), np.nan)  # (..., 25, 3)
    ntu_index, src_index = (list(column) for column in zip(*direct))
    out[..., ntu_index, :] = src[..., src_index, :]
    return out


def _from_ntu25(src: np.ndarray) -> np.ndarray:
    return src.copy()


def _from_kinect_v1_order(
    src: np.ndarray, joints: type[KinectV1] | type[UTDMHAD20], direct: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Both Kinect v1 orders share member names, so one body serves both."""
    out = _start_canonical(src, direct)
    base = _midpoint(src[..., joints.HIP_LEFT, :], src[..., joints.HIP_RIGHT, :])
    shoulder_mid = _midpoint(src[..., joints.SHOULDER_LEFT, :], src[..., joints.SHOULDER_RIGHT, :])
    shoulder = _spine_shoulder(shoulder_mid, base)
    out[..., NTU25.SPINE_BASE, :] = base
    out[..., NTU25.SPINE_SHOULDER, :] = shoulder
    out[..., NTU25.SPINE_MID, :] = _lerp(base, shoulder, SPINE_MID_FRACTION)
    for side in _SIDES:
        hand = src[..., joints[f"HAND_{side}"], :]
        wrist = src[..., joints[f"WRIST_{side}"], :]
        out[..., NTU25[f"HAND_TIP_{side}"], :] = hand + HAND_TIP_EXTENSION * (hand - wrist)
        out[..., NTU25[f"THUMB_{side}"], :] = hand + THUMB_EXTENSION * (hand - wrist)
    return out


def _from_kinect_v1(src: np.ndarray) -> np.ndarray:
    return _from_kinect_v1_order(src, KinectV1, _KINECT_V1_DIRECT)


def _from_utd_mhad(src: np.ndarray) -> np.ndarray:
    return _from_kinect_v1_order(src, UTDMHAD20, _UTD_MHAD_DIRECT)


def _from_mediapipe33(src: np.ndarray) -> np.ndarray:
    p = src * _IMAGE_TO_KINECT_AXES  # (..., 33, 3), Kinect axes
    mp = MediaPipe33
    out = _start_canonical(p, _MEDIAPIPE_DIRECT)
    base = _midpoint(p[..., mp.LEFT_HIP, :], p[..., mp.RIGHT_HIP, :])
    shoulder_mid = _midpoint(p[..., mp.LEFT_SHOULDER, :], p[..., mp.RIGHT_SHOULDER, :])
    shoulder = _spine_shoulder(shoulder_mid, base)
    ear_mid = _midpoint(p[..., mp.LEFT_EAR, :], p[..., mp.RIGHT_EAR, :])
    head = _lerp(shoulder_mid, ear_mid, MEDIAPIPE_HEAD_EXTENSION)
    out[..., NTU25.SPINE_BASE, :] = base
    out[..., NTU25.SPINE_SHOULDER, :] = shoulder
    out[..., NTU25.SPINE_MID, :] = _lerp(base, shoulder, SPINE_MID_FRACTION)
    out[..., NTU25.HEAD, :] = head
    out[..., NTU25.NECK, :] = _lerp(shoulder, head, NECK_FRACTION)
    for side in _SIDES:
        hip = p[..., mp[f"{side}_HIP"], :]
        ankle = p[..., mp[f"{side}_ANKLE"], :]
        toe = p[..., mp[f"{side}_FOOT_INDEX"], :]
        wrist = p[..., mp[f"{side}_WRIST"], :]
        hand = _midpoint(p[..., mp[f"{side}_INDEX"], :], p[..., mp[f"{side}_PINKY"], :])
        out[..., NTU25[f"HIP_{side}"], :] = _lerp(base, hip, MEDIAPIPE_HIP_WIDTH)
        out[..., NTU25[f"FOOT_{side}"], :] = _lerp(ankle, toe, MEDIAPIPE_FOOT_FRACTION)
        out[..., NTU25[f"HAND_{side}"], :] = hand
        out[..., NTU25[f"HAND_TIP_{side}"], :] = hand + HAND_TIP_EXTENSION * (hand - wrist)
    return out


def _from_azure_kinect32(src: np.ndarray) -> np.ndarray:
    p = src * (_IMAGE_TO_KINECT_AXES / MILLIMETRES_PER_METRE)  # (..., 32, 3), Kinect axes, m
    az = AzureKinect32
    out = _start_canonical(p, _AZURE_DIRECT)
    base = p[..., az.PELVIS, :]
    shoulder_mid = _midpoint(p[..., az.SHOULDER_LEFT, :], p[..., az.SHOULDER_RIGHT, :])
    out[..., NTU25.SPINE_SHOULDER, :] = _spine_shoulder(shoulder_mid, base)
    out[..., NTU25.SPINE_MID, :] = _midpoint(p[..., az.SPINE_NAVEL, :], p[..., az.SPINE_CHEST, :])
    return out


def _from_hdm05_mocap31(src: np.ndarray) -> np.ndarray:
    p = src * _MOCAP_TO_KINECT_AXES  # (..., 31, 3), Kinect axes
    hdm = HDM05Mocap31
    out = _start_canonical(p, _HDM05_DIRECT)
    base = _midpoint(p[..., hdm.HIP_LEFT, :], p[..., hdm.HIP_RIGHT, :])
    clavicles = {side: p[..., hdm[f"SHOULDER_{side}"], :] for side in _SIDES}
    shoulder = _spine_shoulder(_midpoint(clavicles["LEFT"], clavicles["RIGHT"]), base)
    head = p[..., hdm.HEAD, :]
    out[..., NTU25.SPINE_BASE, :] = base
    out[..., NTU25.SPINE_SHOULDER, :] = shoulder
    out[..., NTU25.SPINE_MID, :] = _lerp(base, shoulder, SPINE_MID_FRACTION)
    out[..., NTU25.NECK, :] = _lerp(shoulder, head, NECK_FRACTION)
    for side in _SIDES:
        out[..., NTU25[f"SHOULDER_{side}"], :] = _lerp(shoulder, clavicles[side], HDM05_SHOULDER_WIDTH)
    return out


def _from_sbu15(src: np.ndarray) -> np.ndarray:
    out = _start_canonical(src, _SBU_DIRECT)
    base = _midpoint(src[..., SBU15.HIP_LEFT, :], src[..., SBU15.HIP_RIGHT, :])
    shoulder_mid = _midpoint(src[..., SBU15.SHOULDER_LEFT, :], src[..., SBU15.SHOULDER_RIGHT, :])
    shoulder = _spine_shoulder(shoulder_mid, base)
    out[..., NTU25.SPINE_BASE, :] = base
    out[..., NTU25.SPINE_SHOULDER, :] = shoulder
    out[..., NTU25.SPINE_MID, :] = _lerp(base, shoulder, SPINE_MID_FRACTION)
    out[..., NTU25.NECK, :] = _lerp(shoulder, src[..., SBU15.HEAD, :], NECK_FRACTION)
    # The body's own frame: up along the spine, forward = up x right (Kinect
    # axes are right-handed, so this points where the chest faces).
    up = _unit(shoulder_mid - base)
    right = (src[..., SBU15.SHOULDER_RIGHT, :] - src[..., SBU15.SHOULDER_LEFT, :]) + (
        src[..., SBU15.HIP_RIGHT, :] - src[..., SBU15.HIP_LEFT, :]
    )
    forward = _unit(np.cross(up, right))
    for side in _SIDES:
        elbow = src[..., SBU15[f"ELBOW_{side}"], :]
        wrist = src[..., SBU15[f"HAND_{side}"], :]
        hand = wrist + SBU_HAND_EXTENSION * (wrist - elbow)
        out[..., NTU25[f"HAND_{side}"], :] = hand
        out[..., NTU25[f"HAND_TIP_{side}"], :] = hand + HAND_TIP_EXTENSION * (hand - wrist)
        out[..., NTU25[f"THUMB_{side}"], :] = hand + THUMB_EXTENSION * (hand - wrist)
        knee = src[..., SBU15[f"KNEE_{side}"], :]
        ankle = src[..., SBU15[f"FOOT_{side}"], :]
        shin = ankle - knee
        down = _unit(shin)
        toes = _unit(forward - np.sum(forward * down, axis=-1, keepdims=True) * down)  # square to the shin
        length = np.linalg.norm(shin, axis=-1, keepdims=True)
        out[..., NTU25[f"FOOT_{side}"], :] = ankle + length * (SBU_FOOT_FORWARD * toes + SBU_FOOT_DROP * down)
    return out


# Keyed by the joint enum rather than by name so go-to-definition leads here.
_CONVERTERS: dict[type, Callable[[np.ndarray], np.ndarray]] = {
    NTU25: _from_ntu25,
    KinectV1: _from_kinect_v1,
    UTDMHAD20: _from_utd_mhad,
    MediaPipe33: _from_mediapipe33,
    AzureKinect32: _from_azure_kinect32,
    HDM05Mocap31: _from_hdm05_mocap31,
    SBU15: _from_sbu15,
}


def to_canonical(joints: ArrayLike, layout: Layout | str) -> np.ndarray:
    """Map joints of a source layout to NTU25 in Kinect camera space.

    Args:
        joints: (T, V_src, 3) sequence, or any shape (..., V_src, 3) such as
            (T, M, V_src, 3) or a single (V_src, 3) frame, in the source's own
            units and axes (see the module docstring). NaN marks a missing joint.
        layout: a :class:`~calibration.layouts.Layout` or its registered name,
            e.g. ``"mediapipe33"``.

    Returns:
        (..., 25, 3) float32: NTU25 order, metres, Kinect camera axes. NaN
        only in the output joints computed from a NaN input joint.

    Raises:
        ValueError: unknown layout, or a shape that does not end in (V_src, 3).
    """
    if isinstance(layout, str):
        layout = get_layout(layout)
    converter = _CONVERTERS.get(layout.joints)
    if converter is None:
        raise ValueError(f"no mapping to NTU25 for layout {layout.name!r}")
    src = np.asarray(joints, dtype=np.float64)
    v_src = layout.num_joints
    if src.ndim < 2 or src.shape[-2:] != (v_src, 3):
        raise ValueError(
            f"joints for layout {layout.name!r} must have shape (..., {v_src}, 3), "
            f"got {src.shape}"
        )
    return converter(src).astype(np.float32)
