"""Joint layouts: each source's order as published, and bones that form one tree."""

from __future__ import annotations

import dataclasses

import pytest

from calibration import LAYOUTS, AzureKinect32, KinectV1, MediaPipe33, NTU25, UTDMHAD20, get_layout
from calibration.layouts import HDM05_ASF_BONES, SBU15, HDM05Mocap31

# REFERENCE.md section 2, 1-based (child, parent).
NTU_BONES_ONE_BASED = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
]  # fmt: skip


def test_registry_holds_the_seven_sources_under_their_names_with_their_joint_counts():
    assert {name: layout.num_joints for name, layout in LAYOUTS.items()} == {
        "ntu25": 25,
        "kinect_v1": 20,
        "utd_mhad": 20,
        "mediapipe33": 33,
        "azure_kinect32": 32,
        "hdm05_mocap31": 31,
        "sbu15": 15,
    }
    for name, layout in LAYOUTS.items():
        assert layout.name == name


def test_ntu25_follows_kinect_v2_joint_type_order():
    # data/README.md: NTU joint n is JointType n-1.
    names = [
        "SPINE_BASE", "SPINE_MID", "NECK", "HEAD", "SHOULDER_LEFT", "ELBOW_LEFT", "WRIST_LEFT",
        "HAND_LEFT", "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HIP_LEFT",
        "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT", "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT",
        "FOOT_RIGHT", "SPINE_SHOULDER", "HAND_TIP_LEFT", "THUMB_LEFT", "HAND_TIP_RIGHT",
        "THUMB_RIGHT",
    ]  # fmt: skip
    assert [joint.name for joint in NTU25] == names
    assert [int(joint) for joint in NTU25] == list(range(25))


def test_ntu25_bones_are_the_reference_bones_made_zero_based():
    ntu = get_layout("ntu25")
    assert [tuple(int(j) for j in bone) for bone in ntu.bones] == [
        (child - 1, parent - 1) for child, parent in NTU_BONES_ONE_BASED
    ]
    assert ntu.centre == NTU25.SPINE_SHOULDER == 20


def test_kinect_v1_sdk_order_and_utd_mhad_order_differ_but_hold_the_same_joints():
    assert [j.name for j in KinectV1][:4] == ["HIP_CENTER", "SPINE", "SHOULDER_CENTER", "HEAD"]
    # Skeleton_joint_order.txt: 1 head, 2 shoulder_center, 3 spine, 4 hip_center.
    assert [j.name for j in UTDMHAD20][:4] == ["HEAD", "SHOULDER_CENTER", "SPINE", "HIP_CENTER"]
    assert {j.name for j in KinectV1} == {j.name for j in UTDMHAD20}
    for v1, utd in zip(list(KinectV1)[4:], list(UTDMHAD20)[4:]):
        assert (v1.name, int(v1)) == (utd.name, int(utd))


def test_utd_mhad_bones_connect_the_same_named_joints_as_kinect_v1():
    def named(layout):
        return {(layout.joints(c).name, layout.joints(p).name) for c, p in layout.bones}

    assert named(get_layout("utd_mhad")) == named(get_layout("kinect_v1"))


def test_azure_kinect32_follows_the_body_tracking_sdk_order():
    assert [j.name for j in AzureKinect32] == [
        "PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK", "CLAVICLE_LEFT", "SHOULDER_LEFT",
        "ELBOW_LEFT", "WRIST_LEFT", "HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT", "CLAVICLE_RIGHT",
        "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HANDTIP_RIGHT",
        "THUMB_RIGHT", "HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT", "HIP_RIGHT",
        "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT", "HEAD", "NOSE", "EYE_LEFT", "EAR_LEFT",
        "EYE_RIGHT", "EAR_RIGHT",
    ]  # fmt: skip


def test_mediapipe33_follows_blazepose_numbering():
    assert MediaPipe33.NOSE == 0
    assert (MediaPipe33.LEFT_EAR, MediaPipe33.RIGHT_EAR) == (7, 8)
    assert (MediaPipe33.LEFT_SHOULDER, MediaPipe33.RIGHT_SHOULDER) == (11, 12)
    assert (MediaPipe33.LEFT_PINKY, MediaPipe33.LEFT_INDEX, MediaPipe33.LEFT_THUMB) == (17, 19, 21)
    assert (MediaPipe33.LEFT_HIP, MediaPipe33.RIGHT_HIP) == (23, 24)
    assert MediaPipe33.RIGHT_FOOT_INDEX == 32


def test_hdm05_joints_are_the_asf_bone_ends_in_asf_id_order():
    # HDM_*.asf: ids 1..30 in this order; member n is the end of bone id n.
    assert HDM05_ASF_BONES[0] == "root" and len(HDM05_ASF_BONES) == len(HDM05Mocap31) == 31
    for bone, joint in [("lfemur", "KNEE_LEFT"), ("rtibia", "ANKLE_RIGHT"), ("thorax", "THORAX"),
                        ("lclavicle", "SHOULDER_LEFT"), ("lwrist", "WRIST_LEFT"), ("rfingers", "FINGERS_RIGHT"),
                        ("rthumb", "THUMB_RIGHT"), ("head", "HEAD")]:  # fmt: skip
        assert HDM05_ASF_BONES[HDM05Mocap31[joint]] == bone


def test_hdm05_bones_follow_the_asf_hierarchy():
    named = {(HDM05_ASF_BONES[c], HDM05_ASF_BONES[p]) for c, p in get_layout("hdm05_mocap31").bones}
    # HDM_bd.asf :hierarchy, a few of its lines.
    for child, parent in [("lhipjoint", "root"), ("lowerback", "root"), ("lclavicle", "thorax"),
                          ("lthumb", "lwrist"), ("lfingers", "lhand"), ("head", "upperneck")]:  # fmt: skip
        assert (child, parent) in named


def test_sbu15_follows_the_order_of_the_sbu_files():
    # data/README.md, 1-based: 1 head, 2 neck, 3 torso, 4 left shoulder, ...
    assert [j.name for j in SBU15] == [
        "HEAD", "NECK", "TORSO", "SHOULDER_LEFT", "ELBOW_LEFT", "HAND_LEFT", "SHOULDER_RIGHT",
        "ELBOW_RIGHT", "HAND_RIGHT", "HIP_LEFT", "KNEE_LEFT", "FOOT_LEFT", "HIP_RIGHT", "KNEE_RIGHT",
        "FOOT_RIGHT",
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_bones_form_a_single_tree_spanning_every_joint(name):
    layout = get_layout(name)
    v = layout.num_joints
    children = [int(c) for c, _ in layout.bones]
    assert len(layout.bones) == v - 1
    assert len(set(children)) == v - 1, "a joint has two parents"
    assert all(0 <= int(j) < v for bone in layout.bones for j in bone)
    parent = {int(c): int(p) for c, p in layout.bones}
    (root,) = set(range(v)) - set(parent)
    for joint in range(v):
        seen = set()
        while joint != root:
            assert joint not in seen, f"cycle through joint {joint}"
            seen.add(joint)
            joint = parent[joint]
    assert 0 <= layout.centre < v


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_left_bone_has_a_right_twin(name):
    layout = get_layout(name)
    named = {(layout.joints(c).name, layout.joints(p).name) for c, p in layout.bones}
    for child, parent in named:
        if "LEFT" in child or "LEFT" in parent:
            twin = (child.replace("LEFT", "RIGHT"), parent.replace("LEFT", "RIGHT"))
            assert twin in named, f"{name}: {child}->{parent} has no right-side twin"


def test_get_layout_names_the_unknown_layout_and_the_known_ones():
    with pytest.raises(ValueError, match="kinect_v3") as error:
        get_layout("kinect_v3")
    for known in LAYOUTS:
        assert known in str(error.value)


def test_layouts_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_layout("ntu25").name = "other"  # type: ignore[misc]
