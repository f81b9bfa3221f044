//! Generates the protobuf message types of `proto/xiaodian/v1` with prost at build time, with
//! the protoc binary and well-known types vendored by `protoc-bin-vendored` (no system protoc).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["creator_service", "search_service", "settlement_service"]
        .map(|name| root.join(format!("xiaodian/v1/{name}.proto")));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc for this platform");
    std::env::set_var("PROTOC", protoc);
    let include = protoc_bin_vendored::include_path().expect("vendored protobuf includes");
    prost_build::Config::new().compile_protos(&files, &[root, include])
}
