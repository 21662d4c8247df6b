"""The database's own guards against raw SQL, as ``iop db check`` expects them.

Migration 0006 creates the lock triggers (0008 recreates the SQLite meeting update guard with
one more frozen column; 0013 adds those of ``note_facts``, a meeting part like ``progress_note``, and rebuilds the
SQLite history triggers of ``program_settings`` with its new column) (signed meetings, their parts and snapshot,
addenda, co-signatures, the audit log, reference-data history; see that migration's
docstring). ``iop db check`` compares each trigger's *definition* (SHA-256 of its SQL
with whitespace collapsed: ``sqlite_master.sql`` on SQLite, ``pg_get_triggerdef`` and
the plpgsql functions' ``prosrc`` on PostgreSQL) and, on PostgreSQL, that it fires
in normal sessions (``tgenabled`` ``O`` or ``A``: ``ENABLE REPLICA TRIGGER`` or
``DISABLE TRIGGER`` are reported). Names alone prove nothing: a trigger dropped and
created again with the same name and a weaker body is reported as changed; an extra
trigger on a guarded table is reported too.

A migration that changes a trigger must update these fingerprints (a test creates a
fresh database on both back ends and expects no problem).
"""

from __future__ import annotations

import hashlib
from typing import Any

SQLITE_TRIGGERS: dict[str, tuple[str, str]] = {  # name: (table, definition)
    "iop_history_enrollment_delete": ("enrollment", "3e5fed3907efa51329fb637a19e9a3e1f931594915fce33fa01123c7a4e525e4"),
    "iop_history_enrollment_update": ("enrollment", "e3f1d9f244d659c212ea4ce4e24fbf77d9677cf3e0a2e1d8bf51b52b3e2095e8"),
    "iop_history_goal_delete": ("goal", "8d28aaed238602215c3a17411ed7866494d69d4a78d588ba7e2fb5fde9fea22b"),
    "iop_history_goal_update": ("goal", "1136efa4bd9cdf5671ce9ab6b49e093c97c211cd8ab6809f85fd9e7256ca3196"),
    "iop_history_member_delete": ("member", "491b1d7f11f225065d6012c9dc268432c17c01200c7f31dfcf2f91004de401dc"),
    "iop_history_member_update": ("member", "83e134b27971aacd633a039e8253ef86e64aae28e2cbbac7196644c6f99ecaa8"),
    # Migration 0013 added no_change_limit to the columns the SQLite history triggers copy.
    "iop_history_program_settings_delete": ("program_settings", "51bbb1678c547cba072c875dd50f80830ebcb715d96c6d314055b93551a1475f"),
    "iop_history_program_settings_update": ("program_settings", "b621cc9f75108a3bf5c3a51477a781bf158007774895075a16d9afdfe55f5322"),
    "iop_history_staff_delete": ("staff", "44a5eb11af61905d674a0ab6b45ce139c7a8d3eb0e90bbb42acabed785638cfb"),
    "iop_history_staff_update": ("staff", "5c92340722529692abc38692cb4bfd6bd77eb7b7a8f1523b6c4ffbe90a36ae97"),
    "iop_history_therapy_group_delete": ("therapy_group", "0fff51bf70f374473e00da4072c1849d18f6252e1d488b2e73ff98c5e8dbf98e"),
    "iop_history_therapy_group_update": ("therapy_group", "7a3247fd8cb74f2136691caef516e3940ff07c5e0c0b77e6e7fa79401a1439c4"),
    "iop_lock_addendum_delete": ("addendum", "899a983c7e34205880be0ec355b9be0a53fbe674baa5447d6a8e6358f4900621"),
    "iop_lock_addendum_insert": ("addendum", "5a30f8986cc2fb83fba64a59279833860dc0808e4273e8c6660d8e509d2393e5"),
    "iop_lock_addendum_update": ("addendum", "337cf7218c7f5cec9e3ac6fe1b5dfab49574d989f66e2106d5f531b5f1abcaec"),
    "iop_lock_attendance_delete": ("attendance", "5d0182023b12768a6212e9b27dcc3ad50e71e5813047297ab31889e683af52fc"),
    "iop_lock_attendance_insert": ("attendance", "f44883d64c06a2ca065c2fdb4b861072d05b18761826eaf8708852ca5d695314"),
    "iop_lock_attendance_update": ("attendance", "a528f3fd2c0a2c573593c6baa9ef28a08bc935139b17ba21ae501806985bdf43"),
    "iop_lock_audit_event_delete": ("audit_event", "9d8dc05310d0512dc0e1db845abfbfba13928ace77d594209b89635f5db31239"),
    "iop_lock_audit_event_insert": ("audit_event", "bee77aff2dfd15060096f5201bc6c01adecfed9e323c96af9e266b3bef61b3e8"),
    "iop_lock_audit_event_update": ("audit_event", "a02fd4e50f55a608a61f056f7210072601e9765f409df831dc6f3c016c71a89d"),
    "iop_lock_meeting_delete": ("meeting", "447d1cf2796e154a4b33160b9d4cf8206b314d75531374d15e4ac35b2556076b"),
    "iop_lock_meeting_insert": ("meeting", "54570dcf595e8ddbb6ee7dae0d55687162fd363262d0197adae33524221c0afb"),
    # Migration 0008 added narrative_drafted to the columns a signed meeting keeps unchanged.
    "iop_lock_meeting_update": ("meeting", "0924819991cb70f015d96950f678de92cea0cc6776b729b39eef8f36a98a375f"),
    # Migration 0013: the note facts of a meeting, locked like its progress notes.
    "iop_lock_note_facts_delete": ("note_facts", "6537f29846042b1f0848bd9cf64932e17027fe5088ea8557236841fffaf84e08"),
    "iop_lock_note_facts_insert": ("note_facts", "0b2bdc7dd1f8f14e0479b0dd3e3315ffc44c93fdfe833047a39ef7e5de79a8a1"),
    "iop_lock_note_facts_update": ("note_facts", "1a1457ffc2150c83907b30c4d712245b1d385927953a39324afc4cf286070b4b"),
    "iop_lock_progress_note_delete": ("progress_note", "e49ec50c1902e6a5020629f6c401574dace0e769cdafc5ad980656cc228d8fbe"),
    "iop_lock_progress_note_insert": ("progress_note", "67800e7bfad9b37266ea29f1f27d4ed219ddc0c6b855d84f2e1420b554c8237d"),
    "iop_lock_progress_note_update": ("progress_note", "86a27dda3117c551e279db3f2b5e9344eca20696e05bfc5402c0a50d98752026"),
    "iop_lock_row_history_delete": ("row_history", "078a8fdd7fea12e120794259990c9b3669d595119b208361616630b08dd29922"),
    "iop_lock_row_history_insert": ("row_history", "d661ef191a2c22b751dcd4f0ea2c88b9f3d01fef4bf56203ad3468ecce207889"),
    "iop_lock_row_history_update": ("row_history", "2eea687a96f7d4911bd5b3dc429aecba91375f2c736e50886a3509a775b9c1b3"),
    "iop_lock_safety_event_delete": ("safety_event", "2a570d61a63230e5284e43ecd881ca752548cd66f1a5c2fd2dd4ee17643adef9"),
    "iop_lock_safety_event_insert": ("safety_event", "fbeb955bb6ef738b997de57639f06e9d4acc2ea5a8c198127a8768cb30b98f88"),
    "iop_lock_safety_event_update": ("safety_event", "25fce5a442ec932ae8315b5b6a5f84ef5785f8806dfa82ffd60b2d0100dc7979"),
    "iop_lock_signed_cosign_delete": ("signed_cosign", "dc960898ff820b8f64598b9e230a95a8f5a0a92056cebc173fa10e72aa18c84f"),
    "iop_lock_signed_cosign_insert": ("signed_cosign", "d2466edd8758a3947354e76efc0eade05bcb4e806beaf2c38b8a69468addf97c"),
    "iop_lock_signed_cosign_update": ("signed_cosign", "f4e71ef7d690b39b3893015b75ff52ffe8ee6777fc0c1d71b7624bb3e6315156"),
    "iop_lock_signed_member_delete": ("signed_member", "37100fc0b48bf650c554882656642bd883b5f09b5f8906a4087cfded026de8ae"),
    "iop_lock_signed_member_insert": ("signed_member", "3793e5d73fddfdec903d784d1add13c5ec34e877ea0daa8093853eb1f03f19af"),
    "iop_lock_signed_member_update": ("signed_member", "88d02bc93951a7dc2aefd49d84c5f2152df619a25a5019f47fe1fbb34373825c"),
    "iop_lock_signed_snapshot_delete": ("signed_snapshot", "3a1fcc232f930572f9c514b1e243bd5f6b779b6d08e03d06d22e023bd6503e6c"),
    "iop_lock_signed_snapshot_insert": ("signed_snapshot", "58ea3bb185f624ac6bba855ffd70f43645c1fb58ec6aef16905a39226602110c"),
    "iop_lock_signed_snapshot_update": ("signed_snapshot", "d8d12c88e18e91e718618c5d006cd901915fda5380f1057b2e535f68619437c0"),
    "iop_lock_story_note_delete": ("story_note", "86be330fcf8e7e05aa209aad3dd284ea5d33045385e80c0c612cebd743b17611"),
    "iop_lock_story_note_insert": ("story_note", "74a07cd927e9a0c56369c97b7ad7d2a2e4cd6b3c24a7e8dcf50377eb1ca80b2d"),
    "iop_lock_story_note_update": ("story_note", "e7d08809313ce1ac08693990d22e3f288e2182921120d3932aad05812b89b56a"),
}
PG_TRIGGERS: dict[str, tuple[str, str]] = {  # name: (table, definition)
    "iop_history_enrollment": ("enrollment", "1764a4b3a3f1c0d7c751d6afd47240e2422f283446261c3d3654adc39a780576"),
    "iop_history_goal": ("goal", "6348f1f8337ffac0edb8c364dd40c2db67b10780b9ee67cb4a48c2feb9796773"),
    "iop_history_member": ("member", "b41a0a96e2238f76795eb801696b889f2ef64d5f301704ed7063ef2dbda3fb66"),
    "iop_history_program_settings": ("program_settings", "728c952d14a867f6b7a95f0d72500f991a4015d7d99e297940dac5949c1de2ed"),
    "iop_history_staff": ("staff", "242f47e5867760a891a5f8c2555ba5e0a3b64332bb0fe85c9ab95d06e7456458"),
    "iop_history_therapy_group": ("therapy_group", "e76ef4818042afbd7cc790a997c31335575862c21dc3f3610fc82c2289b053ee"),
    "iop_lock_addendum": ("addendum", "adefa1e0575ef3ab77ead7030a09914a2ffa971e337010f28868cc75690bea3d"),
    "iop_lock_addendum_truncate": ("addendum", "a068e261bd1d0a86062cc68a43a10dcd9b349311dd870d332daf61a2d38ea34c"),
    "iop_lock_attendance": ("attendance", "220f27263c82685c61aefc5838b279148bb13b179073c2e8f5e131fbfad4f41f"),
    "iop_lock_attendance_truncate": ("attendance", "d3cbaf3b0f131c95ab542570d62144f7dcb9bc351c56d391a357198c6aa99a92"),
    "iop_lock_audit_event": ("audit_event", "47d1c9ff44ebd622a82dea061a1412d1c40bcb52bcdca4bbdc89730f0550e2a9"),
    "iop_lock_audit_event_truncate": ("audit_event", "37d9032ab15a99f7ccda85bab092fb63190b615d2e763e6e4deac5759fce01fc"),
    "iop_lock_meeting": ("meeting", "166370e4fc6cb81208f2d6849594e445a989e28bbee562d2ac7fa4de78deadfe"),
    "iop_lock_meeting_truncate": ("meeting", "46d26c75c4a53e2d7a1fd43bddffd1af8ae2830235141f72b893b4c2e990de80"),
    "iop_lock_note_facts": ("note_facts", "a4b2bb0e1a6b262b80338fbe7371bacdccc1743fbccf1a44af9f00496cdbce23"),
    "iop_lock_note_facts_truncate": ("note_facts", "48db0a0d0d7ced1fc816def8d501f1901acb8a7b13055e83b142c04403c510ef"),
    "iop_lock_progress_note": ("progress_note", "7caefd20593d14836fb8e401dac906050ae0c8c159c64f85b7165f0268c8532c"),
    "iop_lock_progress_note_truncate": ("progress_note", "57fd16adabb7b0e112b78fec5ee78bd2fcfb4f3baf6b44d29ec6073fdbae4f69"),
    "iop_lock_row_history": ("row_history", "1150e3e507fb4976eef1a68d25df022c0b07a2fad8301e88f609caf820dc4ecb"),
    "iop_lock_row_history_truncate": ("row_history", "9d90d55416e4897f076bab51a28276a85e7a6f1b351239a38b36ed1a6e67a114"),
    "iop_lock_safety_event": ("safety_event", "213c2114114e7ce3822394a9e881da17dd73c8b2bea69cb577c200a8b02e4f2b"),
    "iop_lock_safety_event_truncate": ("safety_event", "cc2d441f38620a3fb6e66ecb1c3b6782cde7da28792e92ea4502520700c53916"),
    "iop_lock_signed_cosign": ("signed_cosign", "aa3064a8f35de88ea292f115b9000b7356cb05ac1d1a67556b86e0cc19683f2c"),
    "iop_lock_signed_cosign_insert": ("signed_cosign", "f36dde7c0b7e1d33ac8ea2affab259f8f3040ccdbc2682854519ea1d76385491"),
    "iop_lock_signed_cosign_truncate": ("signed_cosign", "4cd59c7ac32633d64d658edfee13ac1bdd4e7748c50809d8aa9d97f7ad808189"),
    "iop_lock_signed_member": ("signed_member", "48093b4276abd7c5482dc1ccda8205ce4d2d78eede20e820d77130c7ec6007de"),
    "iop_lock_signed_member_truncate": ("signed_member", "d5556fbe078a284603f708c78d4d81ea531b94377605f4bbdaef77866b48302c"),
    "iop_lock_signed_snapshot": ("signed_snapshot", "6564ee60206b45d092a79ab3ee98fe24028593c026699ad8a365f1bd28e4622a"),
    "iop_lock_signed_snapshot_truncate": ("signed_snapshot", "4967329434418644e6bc977035a213d6b714d0c3874724f4d838e2c3742d44ab"),
    "iop_lock_story_note": ("story_note", "a8302c86993162675b1492652dc748816b4ff90e894fa706195550662c0ce6c8"),
    "iop_lock_story_note_truncate": ("story_note", "e16127321f66fa002bc3d054aa50dbf189df2f5570959a6337a940330389c686"),
}
PG_FUNCTIONS: dict[str, str] = {  # name: body
    "iop_append_only": "1d95cea55e7d5a997600b45fd0021243763a0ffd4eec4e053b6a02100e1fc07d",
    "iop_lock_cosign": "2862ef5ddf4e00d9cab927e1e28aa23b7d14ec5e698e1523d1e4393146f7a404",
    "iop_lock_meeting": "e007ec7704ae700b11aff090ba31b3db0bc6238b21e331b6ef2f11b51e2a3d5b",
    "iop_lock_meeting_part": "0dcd8b706c49636753a5ab4c5a80c407f9d0b3334b1813f52b87c8a2ee3b331b",
    "iop_no_truncate": "1fdd1bfedfb07703489b7e1e856953bc9e3b1178ca7146d21364042171eb9d59",
    "iop_row_history": "d34fd6e743a938c8daf569562e72fac44c0cabb6cc57c273ee0bb9b6c665ec57",
}

GUARDED_TABLES = frozenset(table for table, _ in (*SQLITE_TRIGGERS.values(), *PG_TRIGGERS.values()))
FIRES = ("O", "A")  # pg_trigger.tgenabled: fires in origin (normal) sessions
WHY = "signed records are not protected against raw SQL"


def fingerprint(sql: str) -> str:
    return hashlib.sha256(" ".join((sql or "").split()).encode("utf-8")).hexdigest()


def trigger_problems(conn: Any) -> list[str]:
    """One line per missing, changed, disabled or unexpected guard (empty when all are as created)."""
    problems: list[str] = []
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        found = {name: (table, fingerprint(sql), "O") for name, table, sql in rows}
        expected = SQLITE_TRIGGERS
    else:
        rows = conn.exec_driver_sql(
            "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid), t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())"
        ).fetchall()
        found = {name: (table, fingerprint(sql), str(enabled)) for name, table, sql, enabled in rows}
        expected = PG_TRIGGERS
        bodies = dict(
            conn.exec_driver_sql(
                "SELECT p.proname, p.prosrc FROM pg_proc p WHERE p.pronamespace = to_regnamespace(current_schema())"
            ).fetchall()
        )
        for name, digest in PG_FUNCTIONS.items():
            if name not in bodies:
                problems.append(f"lock: function {name} is missing ({WHY})")
            elif fingerprint(bodies[name]) != digest:
                problems.append(f"lock: function {name} was changed ({WHY})")
    for name, (table, digest) in expected.items():
        if name not in found:
            problems.append(f"lock: trigger {name} is missing ({WHY})")
            continue
        where, actual, enabled = found[name]
        if where != table or actual != digest:
            problems.append(f"lock: trigger {name} was changed ({WHY})")
        elif enabled not in FIRES:
            problems.append(f"lock: trigger {name} is disabled or set to fire only on replicas ({WHY})")
    for name, (table, _digest, _enabled) in sorted(found.items()):
        if name not in expected and table in GUARDED_TABLES:
            problems.append(f"lock: unexpected trigger {name} on {table} (not created by this program; review it)")
    return problems
