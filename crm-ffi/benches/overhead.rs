//! Per-call overhead of the C ABI: the same operations through the exported `extern "C"`
//! functions (exactly what a C host calls: C strings and typed structs in, the handle
//! registry, catch_unwind, error mapping) and straight through `crm_core::Crm`, in one run,
//! on an in-memory store (no disk noise) and on a file. Prints a table.
//!
//!     cargo bench -p crm-ffi --bench overhead [-- N]

use std::ffi::CString;
use std::time::Instant;

use crm::customers::crm_customer_stats;
use crm::error::crm_status;
use crm::handle::crm_t;
use crm::orders::{crm_order_in, crm_order_status};
use crm_core::{Crm, CustomerId, NewCustomer, NewOrder};

const T0: i64 = 1_767_225_600_000_000;

fn rust_orders(crm: &Crm, n: usize, prefix: &str) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        // A Rust host builds the input each time, as a C host fills its struct.
        let o = NewOrder {
            external_id: format!("{prefix}{i}"),
            customer_id: None,
            customer_external_id: Some("C-1".into()),
            occurred_at: chrono::DateTime::from_timestamp_micros(T0 + i as i64).unwrap(),
            status: None,
            currency: "USD".parse().unwrap(),
            total_minor: 100,
            channel: Some("web".into()),
            items: None,
        };
        crm.record_order(&o).unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn c_orders(h: *mut crm_t, n: usize, prefix: &str) -> f64 {
    let ids: Vec<CString> = (0..n).map(|i| CString::new(format!("{prefix}{i}")).unwrap()).collect();
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let o = crm_order_in {
            external_id: id.as_ptr(),
            customer_id: 0,
            customer_external_id: c"C-1".as_ptr(),
            occurred_at_us: T0 + i as i64,
            status: crm_order_status::CRM_ORDER_COMPLETED as i32,
            currency: c"USD".as_ptr(),
            total_minor: 100,
            channel: c"web".as_ptr(),
        };
        let s = unsafe {
            crm::orders::crm_order_record(h, &o, std::ptr::null(), 0, std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(s, crm_status::CRM_OK);
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn rust_stats(crm: &Crm, n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(crm.customer_stats(CustomerId(1)).unwrap());
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn c_stats(h: *mut crm_t, n: usize) -> f64 {
    let mut out = std::mem::MaybeUninit::<crm_customer_stats>::uninit();
    let start = Instant::now();
    for _ in 0..n {
        let s = unsafe { crm::customers::crm_customer_stats_get(h, 1, out.as_mut_ptr()) };
        assert_eq!(s, crm_status::CRM_OK);
        std::hint::black_box(&out);
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn open_pair(file: Option<&std::path::Path>) -> (Crm, *mut crm_t) {
    let mut h: *mut crm_t = std::ptr::null_mut();
    let rust = match file {
        None => {
            assert_eq!(unsafe { crm::handle::crm_open_in_memory(&mut h) }, crm_status::CRM_OK);
            Crm::in_memory().unwrap()
        }
        Some(dir) => {
            let c_path = CString::new(dir.join("c.db").to_str().unwrap()).unwrap();
            assert_eq!(unsafe { crm::handle::crm_open(c_path.as_ptr(), &mut h) }, crm_status::CRM_OK);
            Crm::open(dir.join("rust.db")).unwrap()
        }
    };
    let c1 = NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() };
    rust.upsert_customer(&c1).unwrap();
    let json = c"{\"external_id\":\"C-1\",\"name\":\"Ada\"}";
    let s = unsafe {
        crm::customers::crm_customer_upsert(
            h,
            json.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(s, crm_status::CRM_OK);
    (rust, h)
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("crm-ffi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("C ABI overhead, {n} calls per cell, µs per call (median of 5 alternating rounds)");
    println!("{:<22} {:<8} {:>10} {:>10} {:>10}", "operation", "store", "Rust", "C ABI", "added");
    for (store, file) in [("memory", None), ("file", Some(dir.as_path()))] {
        let (rust, h) = open_pair(file);
        let (mut r_ord, mut c_ord, mut r_st, mut c_st) = (vec![], vec![], vec![], vec![]);
        for round in 0..5 {
            r_ord.push(rust_orders(&rust, n / 5, &format!("R{round}-")));
            c_ord.push(c_orders(h, n / 5, &format!("C{round}-")));
            r_st.push(rust_stats(&rust, n / 5));
            c_st.push(c_stats(h, n / 5));
        }
        for (op, r, c) in [("record order", &mut r_ord, &mut c_ord), ("customer stats (read)", &mut r_st, &mut c_st)] {
            r.sort_by(f64::total_cmp);
            c.sort_by(f64::total_cmp);
            let (r, c) = (r[2], c[2]);
            println!("{op:<22} {store:<8} {r:>10.2} {c:>10.2} {:>+10.2}", c - r);
        }
        assert_eq!(unsafe { crm::handle::crm_close(h) }, crm_status::CRM_OK);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
