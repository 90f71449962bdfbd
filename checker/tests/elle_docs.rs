//! Keeps the consistency-model table in docs/elle.md true to the data it describes.

use faultline_checker::elle::models::MODELS;

#[test]
fn the_documented_model_table_matches_the_data() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/elle.md");
    let doc = std::fs::read_to_string(path).expect("docs/elle.md");
    for m in MODELS {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", m.name)))
            .unwrap_or_else(|| panic!("docs/elle.md has no row for {}", m.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], m.implies.join(", "), "implies of {}", m.name);
        assert_eq!(cells[3], m.forbids.join(", "), "forbids of {}", m.name);
        assert_eq!(cells[4], m.source, "source of {}", m.name);
    }
}
