/* tests/policy/test_channels.c - channel membership and the channels key (§2.3, §2.4). */
#include "policy_test_util.h"

Test(policy_channels, membership_ignores_build_unless_pinned)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.14.2", "arm64", NULL, NULL, NULL);
    /* 4.14.1+amd64 covers only amd64; 4.14.0 is listed twice but counts once */
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.1+amd64 4.14.0 4.14.2+amd64");
    s = tu_build(rs, gd);

    cr_assert_str_eq(tu_meta(s, "4.14.0+amd64", POLICY_KEY_CHANNELS), "stable-4.14");
    cr_assert_str_eq(tu_meta(s, "4.14.0+arm64", POLICY_KEY_CHANNELS), "stable-4.14");
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", POLICY_KEY_CHANNELS), "stable-4.14");
    cr_assert_null(tu_meta(s, "4.14.1+arm64", POLICY_KEY_CHANNELS));
    cr_assert_null(tu_meta(s, "4.14.2+arm64", POLICY_KEY_CHANNELS));
    graph_snapshot_unref(s);
}

Test(policy_channels, legacy_s390x_name_matches_its_own_release)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.2.10-s390x", "s390x", NULL, NULL, NULL);
    tu_release(rs, "4.2.10", "s390x", NULL, NULL, NULL);
    tu_channel(gd, "stable-4.2", "4.2.10-s390x");
    s = tu_build(rs, gd);
    cr_assert_str_eq(tu_meta(s, "4.2.10-s390x+s390x", POLICY_KEY_CHANNELS), "stable-4.2");
    cr_assert_null(tu_meta(s, "4.2.10+s390x", POLICY_KEY_CHANNELS));
    graph_snapshot_unref(s);
}

Test(policy_channels, names_sort_by_suffix_as_plain_text)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    /* channel files in file-name order, as ingest returns them */
    static const char *const names[] = {"candidate-4.10", "candidate-4.9", "eus-4.10",
                                        "fast-4.10",      "fast-4.9",      "stable-4.10",
                                        "stable-4.9"};

    tu_release(rs, "4.9.59", "amd64", NULL, NULL, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        tu_channel(gd, names[i], "4.9.59");
    s = tu_build(rs, gd);
    /* the snapshot example of §2.4: "4.10" sorts before "4.9" */
    cr_assert_str_eq(tu_meta(s, "4.9.59+amd64", POLICY_KEY_CHANNELS),
                     "candidate-4.10,eus-4.10,fast-4.10,stable-4.10,candidate-4.9,fast-4.9,"
                     "stable-4.9");
    graph_snapshot_unref(s);
}

Test(policy_channels, existing_key_is_extended_and_sorted_and_dashless_names_work)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    /* a key from release metadata is appended to, and sorted with the rest */
    tu_release(rs, "4.14.0", "amd64", NULL, NULL,
               "io.openshift.upgrades.graph.release.channels=stable-4.14");
    tu_channel(gd, "candidate-4.14", "4.14.0");
    tu_channel(gd, "nodash", "4.14.0"); /* the reference panics here */
    tu_channel(gd, "a-4.14", "4.14.0");
    s = tu_build(rs, gd);
    /* suffixes: "4.14" x3 (by whole name), "nodash" */
    cr_assert_str_eq(tu_meta(s, "4.14.0+amd64", POLICY_KEY_CHANNELS),
                     "a-4.14,candidate-4.14,stable-4.14,nodash");
    graph_snapshot_unref(s);
}

Test(policy_channels, bad_channel_version_fails_naming_file)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    cincy_error e;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.x");
    e = tu_build_fails(rs, gd, CINCY_EINVALID);
    cr_assert_str_eq(tu_fmt(&e),
                     "channels/stable-4.14.yaml: field 'versions': '4.14.x' is not a valid version");
}
