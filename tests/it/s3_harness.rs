//! The S3 test server itself: what a test puts through `object_store` (with a multipart upload, as the
//! archive uploads recordings) is what [`S3Server::objects`] reads back, and buckets are apart.

use std::time::Instant;

use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};

use crate::support::s3::{S3Server, sha256_hex};

/// Three parts: two of S3's minimum part size (5 MiB, which `WriteMultipart` uses too) and a short last one.
const SIZE: usize = 2 * 5 * 1024 * 1024 + 12_345;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_reads_back_whole_and_a_new_bucket_is_empty() {
    let started = Instant::now();
    let s3 = S3Server::start().await;
    println!("moto answered after {:?}", started.elapsed());
    s3.create_bucket("recordings").await;
    s3.create_bucket("other-bucket").await;

    // Bytes that differ from part to part, so parts out of order or repeated would not compare equal.
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let key = "2024/03/01/call-0001.wav";
    let store = s3.store("recordings");
    let upload = store
        .put_multipart(&Path::from(key))
        .await
        .expect("CreateMultipartUpload");
    let mut writer = WriteMultipart::new(upload);
    writer.write(&data);
    let put = writer
        .finish()
        .await
        .expect("the parts and CompleteMultipartUpload");
    // S3 names a multipart object's ETag after its part count.
    let e_tag = put.e_tag.expect("an ETag");
    assert!(e_tag.trim_matches('"').ends_with("-3"), "ETag {e_tag}");

    let objects = s3.objects("recordings").await;
    assert_eq!(objects.keys().collect::<Vec<_>>(), [key]);
    let stored = &objects[key];
    assert_eq!(stored.len(), SIZE);
    assert!(
        *stored == data,
        "the object's bytes differ from those uploaded"
    );
    assert_eq!(sha256_hex(stored), sha256_hex(&data));
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    assert!(
        s3.objects("other-bucket").await.is_empty(),
        "a new bucket holds nothing"
    );
    assert!(
        s3.log()
            .contains("POST /recordings/2024/03/01/call-0001.wav?uploads"),
        "the upload was a multipart one:\n{}",
        s3.log()
    );
}
