"""Joint layouts of every pose source, each an ``IntEnum`` with its bone list beside it.

Members are 0-based joint indices into the source's own array. Bones are
``(child, parent)`` pairs of 0-based indices forming a tree over all joints;
``centre`` is the joint the graph partitioning of a GCN treats as the body's
centre. The canonical training layout is :class:`NTU25`; ``mapping.to_canonical``
brings every other layout to it.

Coordinate conventions of the raw data (what ``to_canonical`` undoes):

- ``ntu25``, ``kinect_v1``, ``utd_mhad``: Kinect camera space, metres,
  x to the sensor's left, y up, z forward (away from the sensor).
- ``mediapipe33``: MediaPipe's world landmarks in metres, x to the image's
  right, y down, z away from the camera; origin between the hips, or the
  camera once placed where the image shows the person
  (``realtime.pose.place_in_camera``, what the live capture sends).
- ``azure_kinect32``: depth camera space, millimetres,
  x to the image's right, y down, z forward.
- ``hdm05_mocap31``: motion-capture world space as forward kinematics of the
  ASF/AMC files gives it, converted to metres: y up, floor near y = 0, x and z
  horizontal; a right-handed frame in which the ASF rest pose faces +z with
  its left side at +x. Not a camera view: subjects walk and turn in it.
- ``sbu15``: Kinect v1 (OpenNI/NiTE) real-world space, metres, once the
  loader has undone SBU's normalisation: the same axes as ``kinect_v1``.

"Left" is always the subject's own left.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

Bones = tuple[tuple[int, int], ...]


class NTU25(IntEnum):
    """NTU RGB+D / Kinect v2 ``JointType`` order (NTU's 1-based joint n is member n-1)."""

    SPINE_BASE = 0
    SPINE_MID = 1
    NECK = 2
    HEAD = 3
    SHOULDER_LEFT = 4
    ELBOW_LEFT = 5
    WRIST_LEFT = 6
    HAND_LEFT = 7
    SHOULDER_RIGHT = 8
    ELBOW_RIGHT = 9
    WRIST_RIGHT = 10
    HAND_RIGHT = 11
    HIP_LEFT = 12
    KNEE_LEFT = 13
    ANKLE_LEFT = 14
    FOOT_LEFT = 15
    HIP_RIGHT = 16
    KNEE_RIGHT = 17
    ANKLE_RIGHT = 18
    FOOT_RIGHT = 19
    SPINE_SHOULDER = 20
    HAND_TIP_LEFT = 21
    THUMB_LEFT = 22
    HAND_TIP_RIGHT = 23
    THUMB_RIGHT = 24


# The tree is rooted at the spine shoulder, as in the NTU/ST-GCN graph.
NTU25_BONES: Bones = (
    (NTU25.SPINE_BASE, NTU25.SPINE_MID),
    (NTU25.SPINE_MID, NTU25.SPINE_SHOULDER),
    (NTU25.NECK, NTU25.SPINE_SHOULDER),
    (NTU25.HEAD, NTU25.NECK),
    (NTU25.SHOULDER_LEFT, NTU25.SPINE_SHOULDER),
    (NTU25.ELBOW_LEFT, NTU25.SHOULDER_LEFT),
    (NTU25.WRIST_LEFT, NTU25.ELBOW_LEFT),
    (NTU25.HAND_LEFT, NTU25.WRIST_LEFT),
    (NTU25.SHOULDER_RIGHT, NTU25.SPINE_SHOULDER),
    (NTU25.ELBOW_RIGHT, NTU25.SHOULDER_RIGHT),
    (NTU25.WRIST_RIGHT, NTU25.ELBOW_RIGHT),
    (NTU25.HAND_RIGHT, NTU25.WRIST_RIGHT),
    (NTU25.HIP_LEFT, NTU25.SPINE_BASE),
    (NTU25.KNEE_LEFT, NTU25.HIP_LEFT),
    (NTU25.ANKLE_LEFT, NTU25.KNEE_LEFT),
    (NTU25.FOOT_LEFT, NTU25.ANKLE_LEFT),
    (NTU25.HIP_RIGHT, NTU25.SPINE_BASE),
    (NTU25.KNEE_RIGHT, NTU25.HIP_RIGHT),
    (NTU25.ANKLE_RIGHT, NTU25.KNEE_RIGHT),
    (NTU25.FOOT_RIGHT, NTU25.ANKLE_RIGHT),
    (NTU25.HAND_TIP_LEFT, NTU25.HAND_LEFT),
    (NTU25.THUMB_LEFT, NTU25.HAND_LEFT),
    (NTU25.HAND_TIP_RIGHT, NTU25.HAND_RIGHT),
    (NTU25.THUMB_RIGHT, NTU25.HAND_RIGHT),
)


# The canonical skeleton's body parts, named as the body-part sentences of the class
# descriptions (fsvae_core.descriptions.PART_NAMES). Shoulders and hips belong both
# to the torso and to their limb: they move with either.
NTU25_BODY_PARTS: dict[str, tuple[NTU25, ...]] = {
    "head": (NTU25.HEAD, NTU25.NECK),
    "torso": (NTU25.SPINE_BASE, NTU25.SPINE_MID, NTU25.SPINE_SHOULDER, NTU25.SHOULDER_LEFT, NTU25.SHOULDER_RIGHT,
              NTU25.HIP_LEFT, NTU25.HIP_RIGHT),
    **{f"{side.lower()}_arm": tuple(NTU25[f"{joint}_{side}"] for joint in
                                    ("SHOULDER", "ELBOW", "WRIST", "HAND", "HAND_TIP", "THUMB"))
       for side in ("LEFT", "RIGHT")},
    **{f"{side.lower()}_leg": tuple(NTU25[f"{joint}_{side}"] for joint in ("HIP", "KNEE", "ANKLE", "FOOT"))
       for side in ("LEFT", "RIGHT")},
}


class KinectV1(IntEnum):
    """Kinect v1 SDK ``NUI_SKELETON_POSITION_INDEX`` order, as NW-UCLA stores it."""

    HIP_CENTER = 0
    SPINE = 1
    SHOULDER_CENTER = 2
    HEAD = 3
    SHOULDER_LEFT = 4
    ELBOW_LEFT = 5
    WRIST_LEFT = 6
    HAND_LEFT = 7
    SHOULDER_RIGHT = 8
    ELBOW_RIGHT = 9
    WRIST_RIGHT = 10
    HAND_RIGHT = 11
    HIP_LEFT = 12
    KNEE_LEFT = 13
    ANKLE_LEFT = 14
    FOOT_LEFT = 15
    HIP_RIGHT = 16
    KNEE_RIGHT = 17
    ANKLE_RIGHT = 18
    FOOT_RIGHT = 19


# The Kinect v1 SDK hierarchy, rooted at the hip centre.
KINECT_V1_BONES: Bones = (
    (KinectV1.SPINE, KinectV1.HIP_CENTER),
    (KinectV1.SHOULDER_CENTER, KinectV1.SPINE),
    (KinectV1.HEAD, KinectV1.SHOULDER_CENTER),
    (KinectV1.SHOULDER_LEFT, KinectV1.SHOULDER_CENTER),
    (KinectV1.ELBOW_LEFT, KinectV1.SHOULDER_LEFT),
    (KinectV1.WRIST_LEFT, KinectV1.ELBOW_LEFT),
    (KinectV1.HAND_LEFT, KinectV1.WRIST_LEFT),
    (KinectV1.SHOULDER_RIGHT, KinectV1.SHOULDER_CENTER),
    (KinectV1.ELBOW_RIGHT, KinectV1.SHOULDER_RIGHT),
    (KinectV1.WRIST_RIGHT, KinectV1.ELBOW_RIGHT),
    (KinectV1.HAND_RIGHT, KinectV1.WRIST_RIGHT),
    (KinectV1.HIP_LEFT, KinectV1.HIP_CENTER),
    (KinectV1.KNEE_LEFT, KinectV1.HIP_LEFT),
    (KinectV1.ANKLE_LEFT, KinectV1.KNEE_LEFT),
    (KinectV1.FOOT_LEFT, KinectV1.ANKLE_LEFT),
    (KinectV1.HIP_RIGHT, KinectV1.HIP_CENTER),
    (KinectV1.KNEE_RIGHT, KinectV1.HIP_RIGHT),
    (KinectV1.ANKLE_RIGHT, KinectV1.KNEE_RIGHT),
    (KinectV1.FOOT_RIGHT, KinectV1.ANKLE_RIGHT),
)


class UTDMHAD20(IntEnum):
    """UTD-MHAD's own 20-joint order (``Skeleton_joint_order.txt``), Kinect v1 joints.

    Member names follow :class:`KinectV1` (the file says ``left_shoulder`` where
    the SDK says ``SHOULDER_LEFT``) so the two layouts can be matched by name.
    """

    HEAD = 0
    SHOULDER_CENTER = 1
    SPINE = 2
    HIP_CENTER = 3
    SHOULDER_LEFT = 4
    ELBOW_LEFT = 5
    WRIST_LEFT = 6
    HAND_LEFT = 7
    SHOULDER_RIGHT = 8
    ELBOW_RIGHT = 9
    WRIST_RIGHT = 10
    HAND_RIGHT = 11
    HIP_LEFT = 12
    KNEE_LEFT = 13
    ANKLE_LEFT = 14
    FOOT_LEFT = 15
    HIP_RIGHT = 16
    KNEE_RIGHT = 17
    ANKLE_RIGHT = 18
    FOOT_RIGHT = 19


# Same skeleton as Kinect v1, only the order differs.
UTD_MHAD20_BONES: Bones = tuple(
    (UTDMHAD20[child.name], UTDMHAD20[parent.name]) for child, parent in KINECT_V1_BONES
)


class MediaPipe33(IntEnum):
    """MediaPipe Pose (BlazePose) 33 landmarks; hands are knuckles, not finger tips."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


# MediaPipe's own POSE_CONNECTIONS contain cycles (the torso box, the foot
# triangle); this is a spanning tree of them rooted at the nose, the way
# pyskl's COCO graph roots at the nose, so every layout has (child, parent) bones.
MEDIAPIPE33_BONES: Bones = (
    (MediaPipe33.LEFT_EYE_INNER, MediaPipe33.NOSE),
    (MediaPipe33.LEFT_EYE, MediaPipe33.LEFT_EYE_INNER),
    (MediaPipe33.LEFT_EYE_OUTER, MediaPipe33.LEFT_EYE),
    (MediaPipe33.LEFT_EAR, MediaPipe33.LEFT_EYE_OUTER),
    (MediaPipe33.RIGHT_EYE_INNER, MediaPipe33.NOSE),
    (MediaPipe33.RIGHT_EYE, MediaPipe33.RIGHT_EYE_INNER),
    (MediaPipe33.RIGHT_EYE_OUTER, MediaPipe33.RIGHT_EYE),
    (MediaPipe33.RIGHT_EAR, MediaPipe33.RIGHT_EYE_OUTER),
    (MediaPipe33.MOUTH_LEFT, MediaPipe33.NOSE),
    (MediaPipe33.MOUTH_RIGHT, MediaPipe33.NOSE),
    (MediaPipe33.LEFT_SHOULDER, MediaPipe33.NOSE),
    (MediaPipe33.LEFT_ELBOW, MediaPipe33.LEFT_SHOULDER),
    (MediaPipe33.LEFT_WRIST, MediaPipe33.LEFT_ELBOW),
    (MediaPipe33.LEFT_PINKY, MediaPipe33.LEFT_WRIST),
    (MediaPipe33.LEFT_INDEX, MediaPipe33.LEFT_WRIST),
    (MediaPipe33.LEFT_THUMB, MediaPipe33.LEFT_WRIST),
    (MediaPipe33.RIGHT_SHOULDER, MediaPipe33.NOSE),
    (MediaPipe33.RIGHT_ELBOW, MediaPipe33.RIGHT_SHOULDER),
    (MediaPipe33.RIGHT_WRIST, MediaPipe33.RIGHT_ELBOW),
    (MediaPipe33.RIGHT_PINKY, MediaPipe33.RIGHT_WRIST),
    (MediaPipe33.RIGHT_INDEX, MediaPipe33.RIGHT_WRIST),
    (MediaPipe33.RIGHT_THUMB, MediaPipe33.RIGHT_WRIST),
    (MediaPipe33.LEFT_HIP, MediaPipe33.LEFT_SHOULDER),
    (MediaPipe33.LEFT_KNEE, MediaPipe33.LEFT_HIP),
    (MediaPipe33.LEFT_ANKLE, MediaPipe33.LEFT_KNEE),
    (MediaPipe33.LEFT_HEEL, MediaPipe33.LEFT_ANKLE),
    (MediaPipe33.LEFT_FOOT_INDEX, MediaPipe33.LEFT_ANKLE),
    (MediaPipe33.RIGHT_HIP, MediaPipe33.RIGHT_SHOULDER),
    (MediaPipe33.RIGHT_KNEE, MediaPipe33.RIGHT_HIP),
    (MediaPipe33.RIGHT_ANKLE, MediaPipe33.RIGHT_KNEE),
    (MediaPipe33.RIGHT_HEEL, MediaPipe33.RIGHT_ANKLE),
    (MediaPipe33.RIGHT_FOOT_INDEX, MediaPipe33.RIGHT_ANKLE),
)


class AzureKinect32(IntEnum):
    """Azure Kinect Body Tracking ``k4abt_joint_id_t`` order."""

    PELVIS = 0
    SPINE_NAVEL = 1
    SPINE_CHEST = 2
    NECK = 3
    CLAVICLE_LEFT = 4
    SHOULDER_LEFT = 5
    ELBOW_LEFT = 6
    WRIST_LEFT = 7
    HAND_LEFT = 8
    HANDTIP_LEFT = 9
    THUMB_LEFT = 10
    CLAVICLE_RIGHT = 11
    SHOULDER_RIGHT = 12
    ELBOW_RIGHT = 13
    WRIST_RIGHT = 14
    HAND_RIGHT = 15
    HANDTIP_RIGHT = 16
    THUMB_RIGHT = 17
    HIP_LEFT = 18
    KNEE_LEFT = 19
    ANKLE_LEFT = 20
    FOOT_LEFT = 21
    HIP_RIGHT = 22
    KNEE_RIGHT = 23
    ANKLE_RIGHT = 24
    FOOT_RIGHT = 25
    HEAD = 26
    NOSE = 27
    EYE_LEFT = 28
    EAR_LEFT = 29
    EYE_RIGHT = 30
    EAR_RIGHT = 31


# The SDK's documented joint hierarchy, rooted at the pelvis (thumbs hang off
# the wrist, not the hand).
AZURE_KINECT32_BONES: Bones = (
    (AzureKinect32.SPINE_NAVEL, AzureKinect32.PELVIS),
    (AzureKinect32.SPINE_CHEST, AzureKinect32.SPINE_NAVEL),
    (AzureKinect32.NECK, AzureKinect32.SPINE_CHEST),
    (AzureKinect32.CLAVICLE_LEFT, AzureKinect32.SPINE_CHEST),
    (AzureKinect32.SHOULDER_LEFT, AzureKinect32.CLAVICLE_LEFT),
    (AzureKinect32.ELBOW_LEFT, AzureKinect32.SHOULDER_LEFT),
    (AzureKinect32.WRIST_LEFT, AzureKinect32.ELBOW_LEFT),
    (AzureKinect32.HAND_LEFT, AzureKinect32.WRIST_LEFT),
    (AzureKinect32.HANDTIP_LEFT, AzureKinect32.HAND_LEFT),
    (AzureKinect32.THUMB_LEFT, AzureKinect32.WRIST_LEFT),
    (AzureKinect32.CLAVICLE_RIGHT, AzureKinect32.SPINE_CHEST),
    (AzureKinect32.SHOULDER_RIGHT, AzureKinect32.CLAVICLE_RIGHT),
    (AzureKinect32.ELBOW_RIGHT, AzureKinect32.SHOULDER_RIGHT),
    (AzureKinect32.WRIST_RIGHT, AzureKinect32.ELBOW_RIGHT),
    (AzureKinect32.HAND_RIGHT, AzureKinect32.WRIST_RIGHT),
    (AzureKinect32.HANDTIP_RIGHT, AzureKinect32.HAND_RIGHT),
    (AzureKinect32.THUMB_RIGHT, AzureKinect32.WRIST_RIGHT),
    (AzureKinect32.HIP_LEFT, AzureKinect32.PELVIS),
    (AzureKinect32.KNEE_LEFT, AzureKinect32.HIP_LEFT),
    (AzureKinect32.ANKLE_LEFT, AzureKinect32.KNEE_LEFT),
    (AzureKinect32.FOOT_LEFT, AzureKinect32.ANKLE_LEFT),
    (AzureKinect32.HIP_RIGHT, AzureKinect32.PELVIS),
    (AzureKinect32.KNEE_RIGHT, AzureKinect32.HIP_RIGHT),
    (AzureKinect32.ANKLE_RIGHT, AzureKinect32.KNEE_RIGHT),
    (AzureKinect32.FOOT_RIGHT, AzureKinect32.ANKLE_RIGHT),
    (AzureKinect32.HEAD, AzureKinect32.NECK),
    (AzureKinect32.NOSE, AzureKinect32.HEAD),
    (AzureKinect32.EYE_LEFT, AzureKinect32.HEAD),
    (AzureKinect32.EAR_LEFT, AzureKinect32.HEAD),
    (AzureKinect32.EYE_RIGHT, AzureKinect32.HEAD),
    (AzureKinect32.EAR_RIGHT, AzureKinect32.HEAD),
)


class HDM05Mocap31(IntEnum):
    """HDM05's Vicon/Acclaim skeleton: the root and the end point of each of its 30 ASF bones.

    Member n is the far end of the ASF bone with ``id n`` (:data:`HDM05_ASF_BONES`
    holds the bone names); member 0 is the root, the pelvis point the AMC
    translation moves. Names say where each end point lies on the body. The
    forearm is two bones: ``lradius`` ends two thirds of the way down
    (``FOREARM_LEFT``) and ``lwrist``, which carries the forearm twist, ends at
    the wrist.
    """

    ROOT = 0
    HIP_LEFT = 1  # lhipjoint
    KNEE_LEFT = 2  # lfemur
    ANKLE_LEFT = 3  # ltibia
    FOOT_LEFT = 4  # lfoot: the ball of the foot
    TOE_LEFT = 5  # ltoes
    HIP_RIGHT = 6
    KNEE_RIGHT = 7
    ANKLE_RIGHT = 8
    FOOT_RIGHT = 9
    TOE_RIGHT = 10
    LOWER_BACK = 11  # lowerback
    UPPER_BACK = 12  # upperback
    THORAX = 13  # thorax: the top of the thorax, below the shoulder line
    LOWER_NECK = 14  # lowerneck: mid-neck
    UPPER_NECK = 15  # upperneck: the base of the skull
    HEAD = 16  # head: the top of the head
    SHOULDER_LEFT = 17  # lclavicle
    ELBOW_LEFT = 18  # lhumerus
    FOREARM_LEFT = 19  # lradius
    WRIST_LEFT = 20  # lwrist
    HAND_LEFT = 21  # lhand: the knuckles
    FINGERS_LEFT = 22  # lfingers: the finger tips
    THUMB_LEFT = 23  # lthumb
    SHOULDER_RIGHT = 24
    ELBOW_RIGHT = 25
    FOREARM_RIGHT = 26
    WRIST_RIGHT = 27
    HAND_RIGHT = 28
    FINGERS_RIGHT = 29
    THUMB_RIGHT = 30


# ASF bone name of every HDM05Mocap31 member, index = member ("root" for the root).
HDM05_ASF_BONES: tuple[str, ...] = (
    "root",
    "lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes",
    "rhipjoint", "rfemur", "rtibia", "rfoot", "rtoes",
    "lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head",
    "lclavicle", "lhumerus", "lradius", "lwrist", "lhand", "lfingers", "lthumb",
    "rclavicle", "rhumerus", "rradius", "rwrist", "rhand", "rfingers", "rthumb",
)  # fmt: skip

# The ASF ``:hierarchy`` of the HDM05 subjects: each bone starts where its parent ends.
HDM05_MOCAP31_BONES: Bones = (
    (HDM05Mocap31.HIP_LEFT, HDM05Mocap31.ROOT),
    (HDM05Mocap31.KNEE_LEFT, HDM05Mocap31.HIP_LEFT),
    (HDM05Mocap31.ANKLE_LEFT, HDM05Mocap31.KNEE_LEFT),
    (HDM05Mocap31.FOOT_LEFT, HDM05Mocap31.ANKLE_LEFT),
    (HDM05Mocap31.TOE_LEFT, HDM05Mocap31.FOOT_LEFT),
    (HDM05Mocap31.HIP_RIGHT, HDM05Mocap31.ROOT),
    (HDM05Mocap31.KNEE_RIGHT, HDM05Mocap31.HIP_RIGHT),
    (HDM05Mocap31.ANKLE_RIGHT, HDM05Mocap31.KNEE_RIGHT),
    (HDM05Mocap31.FOOT_RIGHT, HDM05Mocap31.ANKLE_RIGHT),
    (HDM05Mocap31.TOE_RIGHT, HDM05Mocap31.FOOT_RIGHT),
    (HDM05Mocap31.LOWER_BACK, HDM05Mocap31.ROOT),
    (HDM05Mocap31.UPPER_BACK, HDM05Mocap31.LOWER_BACK),
    (HDM05Mocap31.THORAX, HDM05Mocap31.UPPER_BACK),
    (HDM05Mocap31.LOWER_NECK, HDM05Mocap31.THORAX),
    (HDM05Mocap31.UPPER_NECK, HDM05Mocap31.LOWER_NECK),
    (HDM05Mocap31.HEAD, HDM05Mocap31.UPPER_NECK),
    (HDM05Mocap31.SHOULDER_LEFT, HDM05Mocap31.THORAX),
    (HDM05Mocap31.ELBOW_LEFT, HDM05Mocap31.SHOULDER_LEFT),
    (HDM05Mocap31.FOREARM_LEFT, HDM05Mocap31.ELBOW_LEFT),
    (HDM05Mocap31.WRIST_LEFT, HDM05Mocap31.FOREARM_LEFT),
    (HDM05Mocap31.HAND_LEFT, HDM05Mocap31.WRIST_LEFT),
    (HDM05Mocap31.FINGERS_LEFT, HDM05Mocap31.HAND_LEFT),
    (HDM05Mocap31.THUMB_LEFT, HDM05Mocap31.WRIST_LEFT),
    (HDM05Mocap31.SHOULDER_RIGHT, HDM05Mocap31.THORAX),
    (HDM05Mocap31.ELBOW_RIGHT, HDM05Mocap31.SHOULDER_RIGHT),
    (HDM05Mocap31.FOREARM_RIGHT, HDM05Mocap31.ELBOW_RIGHT),
    (HDM05Mocap31.WRIST_RIGHT, HDM05Mocap31.FOREARM_RIGHT),
    (HDM05Mocap31.HAND_RIGHT, HDM05Mocap31.WRIST_RIGHT),
    (HDM05Mocap31.FINGERS_RIGHT, HDM05Mocap31.HAND_RIGHT),
    (HDM05Mocap31.THUMB_RIGHT, HDM05Mocap31.WRIST_RIGHT),
)


class SBU15(IntEnum):
    """SBU Kinect Interaction's 15 OpenNI/NiTE joints, in the order of its files.

    NiTE's ``HAND`` sits where Kinect v2 puts the wrist, its ``FOOT`` at the
    ankle, its ``NECK`` at the shoulder midpoint and its ``TORSO`` halfway
    between that and the hip midpoint (measured; see :mod:`calibration.mapping`).
    """

    HEAD = 0
    NECK = 1
    TORSO = 2
    SHOULDER_LEFT = 3
    ELBOW_LEFT = 4
    HAND_LEFT = 5
    SHOULDER_RIGHT = 6
    ELBOW_RIGHT = 7
    HAND_RIGHT = 8
    HIP_LEFT = 9
    KNEE_LEFT = 10
    FOOT_LEFT = 11
    HIP_RIGHT = 12
    KNEE_RIGHT = 13
    FOOT_RIGHT = 14


# NiTE's skeleton, rooted at the torso.
SBU15_BONES: Bones = (
    (SBU15.NECK, SBU15.TORSO),
    (SBU15.HEAD, SBU15.NECK),
    (SBU15.SHOULDER_LEFT, SBU15.NECK),
    (SBU15.ELBOW_LEFT, SBU15.SHOULDER_LEFT),
    (SBU15.HAND_LEFT, SBU15.ELBOW_LEFT),
    (SBU15.SHOULDER_RIGHT, SBU15.NECK),
    (SBU15.ELBOW_RIGHT, SBU15.SHOULDER_RIGHT),
    (SBU15.HAND_RIGHT, SBU15.ELBOW_RIGHT),
    (SBU15.HIP_LEFT, SBU15.TORSO),
    (SBU15.KNEE_LEFT, SBU15.HIP_LEFT),
    (SBU15.FOOT_LEFT, SBU15.KNEE_LEFT),
    (SBU15.HIP_RIGHT, SBU15.TORSO),
    (SBU15.KNEE_RIGHT, SBU15.HIP_RIGHT),
    (SBU15.FOOT_RIGHT, SBU15.KNEE_RIGHT),
)


@dataclass(frozen=True)
class Layout:
    """One pose source's skeleton: its joint enum, bone tree and centre joint.

    ``bones`` are 0-based ``(child, parent)`` pairs; ``centre`` is a member of
    ``joints``.
    """

    name: str
    joints: type[IntEnum]
    bones: Bones
    centre: int

    @property
    def num_joints(self) -> int:
        """V, the number of joints in one frame of this layout."""
        return len(self.joints)


NTU25_LAYOUT = Layout("ntu25", NTU25, NTU25_BONES, NTU25.SPINE_SHOULDER)
KINECT_V1_LAYOUT = Layout("kinect_v1", KinectV1, KINECT_V1_BONES, KinectV1.SHOULDER_CENTER)
UTD_MHAD_LAYOUT = Layout("utd_mhad", UTDMHAD20, UTD_MHAD20_BONES, UTDMHAD20.SHOULDER_CENTER)
MEDIAPIPE33_LAYOUT = Layout("mediapipe33", MediaPipe33, MEDIAPIPE33_BONES, MediaPipe33.NOSE)
AZURE_KINECT32_LAYOUT = Layout(
    "azure_kinect32", AzureKinect32, AZURE_KINECT32_BONES, AzureKinect32.SPINE_CHEST
)
HDM05_MOCAP31_LAYOUT = Layout("hdm05_mocap31", HDM05Mocap31, HDM05_MOCAP31_BONES, HDM05Mocap31.THORAX)
SBU15_LAYOUT = Layout("sbu15", SBU15, SBU15_BONES, SBU15.NECK)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        NTU25_LAYOUT,
        KINECT_V1_LAYOUT,
        UTD_MHAD_LAYOUT,
        MEDIAPIPE33_LAYOUT,
        AZURE_KINECT32_LAYOUT,
        HDM05_MOCAP31_LAYOUT,
        SBU15_LAYOUT,
    )
}


def get_layout(name: str) -> Layout:
    """The layout registered under ``name`` (e.g. ``"mediapipe33"``).

    Raises ValueError naming the unknown name and the known ones.
    """
    try:
        return LAYOUTS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(LAYOUTS))
        raise ValueError(f"unknown skeleton layout {name!r}; known layouts: {known}") from None
