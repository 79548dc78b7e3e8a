//! Static reference data for the generator: names, countries, cities, phones, catalogue
//! categories, interaction templates. Everything here is plain `const` data (slices, never
//! hash maps), so the generator's output does not depend on any iteration order.

/// A naming culture: first names `(display, ascii slug, is_female)` and last names `(display, slug)`.
pub(super) struct Culture {
    pub first: &'static [(&'static str, &'static str, bool)],
    pub last: &'static [(&'static str, &'static str)],
}

pub(super) const ANGLO: usize = 0;
pub(super) const HISPANIC: usize = 1;
pub(super) const GERMAN: usize = 2;
pub(super) const FRENCH: usize = 3;
pub(super) const CHINESE: usize = 4;
pub(super) const MALAY: usize = 5;
pub(super) const JAPANESE: usize = 6;
pub(super) const INDIAN: usize = 7;
pub(super) const BRAZILIAN: usize = 8;

pub(super) const CULTURES: [Culture; 9] = [
    Culture {
        first: &[
            ("James", "james", false),
            ("Mary", "mary", true),
            ("Michael", "michael", false),
            ("Jennifer", "jennifer", true),
            ("Oliver", "oliver", false),
            ("Emily", "emily", true),
            ("William", "william", false),
            ("Charlotte", "charlotte", true),
            ("Jack", "jack", false),
            ("Chloe", "chloe", true),
        ],
        last: &[
            ("Smith", "smith"),
            ("Johnson", "johnson"),
            ("Brown", "brown"),
            ("Taylor", "taylor"),
            ("Wilson", "wilson"),
            ("Davies", "davies"),
            ("O'Brien", "obrien"),
            ("Murphy", "murphy"),
            ("Campbell", "campbell"),
            ("Walker", "walker"),
        ],
    },
    Culture {
        first: &[
            ("Sofía", "sofia", true),
            ("Mateo", "mateo", false),
            ("Valentina", "valentina", true),
            ("Diego", "diego", false),
            ("Camila", "camila", true),
            ("Santiago", "santiago", false),
        ],
        last: &[
            ("García", "garcia"),
            ("Rodríguez", "rodriguez"),
            ("Hernández", "hernandez"),
            ("López", "lopez"),
            ("Martínez", "martinez"),
            ("González", "gonzalez"),
        ],
    },
    Culture {
        first: &[
            ("Lukas", "lukas", false),
            ("Anna", "anna", true),
            ("Jonas", "jonas", false),
            ("Lena", "lena", true),
            ("Felix", "felix", false),
            ("Sophie", "sophie", true),
            ("Maximilian", "maximilian", false),
            ("Jürgen", "juergen", false),
        ],
        last: &[
            ("Müller", "mueller"),
            ("Schmidt", "schmidt"),
            ("Schneider", "schneider"),
            ("Fischer", "fischer"),
            ("Weber", "weber"),
            ("Becker", "becker"),
            ("Schäfer", "schaefer"),
            ("Wagner", "wagner"),
        ],
    },
    Culture {
        first: &[
            ("Léa", "lea", true),
            ("Hugo", "hugo", false),
            ("Chloé", "chloe", true),
            ("Louis", "louis", false),
            ("Camille", "camille", true),
            ("Gabriel", "gabriel", false),
            ("Manon", "manon", true),
            ("François", "francois", false),
        ],
        last: &[
            ("Martin", "martin"),
            ("Bernard", "bernard"),
            ("Dubois", "dubois"),
            ("Lefèvre", "lefevre"),
            ("Moreau", "moreau"),
            ("Laurent", "laurent"),
            ("Girard", "girard"),
            ("Rousseau", "rousseau"),
        ],
    },
    Culture {
        first: &[
            ("Wei", "wei", false),
            ("Fang", "fang", true),
            ("Jing", "jing", true),
            ("Lei", "lei", false),
            ("Min", "min", true),
            ("Hao", "hao", false),
            ("Xiaoling", "xiaoling", true),
            ("Jun", "jun", false),
        ],
        last: &[
            ("Wang", "wang"),
            ("Li", "li"),
            ("Zhang", "zhang"),
            ("Liu", "liu"),
            ("Chen", "chen"),
            ("Tan", "tan"),
            ("Lim", "lim"),
            ("Huang", "huang"),
        ],
    },
    Culture {
        first: &[
            ("Muhammad", "muhammad", false),
            ("Nur", "nur", true),
            ("Ahmad", "ahmad", false),
            ("Siti", "siti", true),
            ("Hafiz", "hafiz", false),
            ("Aisyah", "aisyah", true),
        ],
        last: &[
            ("Abdullah", "abdullah"),
            ("Rahman", "rahman"),
            ("Ismail", "ismail"),
            ("Hassan", "hassan"),
            ("Yusof", "yusof"),
            ("Osman", "osman"),
        ],
    },
    Culture {
        first: &[
            ("Haruto", "haruto", false),
            ("Yui", "yui", true),
            ("Sota", "sota", false),
            ("Sakura", "sakura", true),
            ("Ren", "ren", false),
            ("Aoi", "aoi", true),
            ("Takumi", "takumi", false),
            ("Yūko", "yuko", true),
        ],
        last: &[
            ("Sato", "sato"),
            ("Suzuki", "suzuki"),
            ("Takahashi", "takahashi"),
            ("Tanaka", "tanaka"),
            ("Watanabe", "watanabe"),
            ("Ito", "ito"),
            ("Yamamoto", "yamamoto"),
            ("Nakamura", "nakamura"),
        ],
    },
    Culture {
        first: &[
            ("Aarav", "aarav", false),
            ("Priya", "priya", true),
            ("Vihaan", "vihaan", false),
            ("Ananya", "ananya", true),
            ("Arjun", "arjun", false),
            ("Diya", "diya", true),
            ("Rohan", "rohan", false),
            ("Kavya", "kavya", true),
        ],
        last: &[
            ("Sharma", "sharma"),
            ("Patel", "patel"),
            ("Singh", "singh"),
            ("Kumar", "kumar"),
            ("Gupta", "gupta"),
            ("Reddy", "reddy"),
            ("Iyer", "iyer"),
            ("Nair", "nair"),
        ],
    },
    Culture {
        first: &[
            ("João", "joao", false),
            ("Maria", "maria", true),
            ("Pedro", "pedro", false),
            ("Ana", "ana", true),
            ("Lucas", "lucas", false),
            ("Juliana", "juliana", true),
            ("Rafael", "rafael", false),
            ("Beatriz", "beatriz", true),
        ],
        last: &[
            ("Silva", "silva"),
            ("Santos", "santos"),
            ("Oliveira", "oliveira"),
            ("Souza", "souza"),
            ("Pereira", "pereira"),
            ("Costa", "costa"),
            ("Rodrigues", "rodrigues"),
            ("Almeida", "almeida"),
        ],
    },
];

/// How a country's mobile numbers are generated (every pattern is inside libphonenumber's
/// mobile ranges for the country).
#[derive(Clone, Copy)]
pub(super) enum PhoneStyle {
    /// `+1 AAA-NXX-XXXX`, the area code taken from the city.
    Us,
    /// `+44 7PPP NNNNNN`.
    Gb,
    /// `+49 1PP NNNNNNNN`.
    De,
    /// `+33 6 NN NN NN NN`.
    Fr,
    /// `+65 9NNN NNNN`.
    Sg,
    /// `+86 1PP NNNN NNNN`.
    Cn,
    /// `+81 90-NNNN-NNNN`.
    Jp,
    /// `+61 4NN NNN NNN`.
    Au,
    /// `+91 9NNNN NNNNN`.
    In,
    /// `+55 AA 9NNNN-NNNN`, the area code taken from the city.
    Br,
}

/// A city: name, region, postal-code template (`#` any digit, `%` a digit 1-9, `@` a letter)
/// and telephone area code (used by countries whose mobile numbers carry one).
pub(super) struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub postal: &'static str,
    pub area: &'static str,
}

const fn city(name: &'static str, region: &'static str, postal: &'static str, area: &'static str) -> City {
    City { name, region, postal, area }
}

pub(super) struct Country {
    pub code: &'static str,
    pub currency: &'static str,
    /// Currency units per 1,000 USD (a fixed, made-up but plausible rate).
    pub per_1000_usd: i64,
    pub weight: u32,
    /// UTC offset in minutes, for time-of-day patterns.
    pub utc_offset_min: i64,
    /// Primary and secondary naming cultures.
    pub cultures: (usize, usize),
    pub phone: PhoneStyle,
    pub cities: &'static [City],
    pub streets: &'static [&'static str],
    /// Whether the house number comes before the street name.
    pub number_first: bool,
    pub company_suffixes: &'static [&'static str],
}

pub(super) const COUNTRIES: [Country; 10] = [
    Country {
        code: "US",
        currency: "USD",
        per_1000_usd: 1_000,
        weight: 30,
        utc_offset_min: -6 * 60,
        cultures: (ANGLO, HISPANIC),
        phone: PhoneStyle::Us,
        cities: &[
            city("San Francisco", "CA", "941##", "415"),
            city("New York", "NY", "100##", "212"),
            city("Brooklyn", "NY", "112##", "646"),
            city("Chicago", "IL", "606##", "312"),
            city("Los Angeles", "CA", "900##", "310"),
            city("Boston", "MA", "021##", "617"),
            city("Seattle", "WA", "981##", "206"),
            city("Austin", "TX", "787##", "512"),
        ],
        streets: &[
            "Market Street",
            "Main Street",
            "Oak Avenue",
            "Maple Drive",
            "Broadway",
            "Elm Street",
            "Park Avenue",
        ],
        number_first: true,
        company_suffixes: &["Inc.", "LLC", "Corp."],
    },
    Country {
        code: "GB",
        currency: "GBP",
        per_1000_usd: 790,
        weight: 10,
        utc_offset_min: 0,
        cultures: (ANGLO, INDIAN),
        phone: PhoneStyle::Gb,
        cities: &[
            city("London", "England", "SW% #@@", ""),
            city("London", "England", "E% #@@", ""),
            city("Manchester", "England", "M% #@@", ""),
            city("Birmingham", "England", "B% #@@", ""),
            city("Leeds", "England", "LS% #@@", ""),
            city("Edinburgh", "Scotland", "EH% #@@", ""),
            city("Cardiff", "Wales", "CF%# #@@", ""),
        ],
        streets: &["High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Mill Road"],
        number_first: true,
        company_suffixes: &["Ltd", "Ltd", "PLC"],
    },
    Country {
        code: "DE",
        currency: "EUR",
        per_1000_usd: 920,
        weight: 9,
        utc_offset_min: 60,
        cultures: (GERMAN, ANGLO),
        phone: PhoneStyle::De,
        cities: &[
            city("Berlin", "Berlin", "10###", ""),
            city("Hamburg", "Hamburg", "20###", ""),
            city("München", "Bayern", "80###", ""),
            city("Köln", "Nordrhein-Westfalen", "50###", ""),
            city("Frankfurt am Main", "Hessen", "60###", ""),
            city("Stuttgart", "Baden-Württemberg", "70###", ""),
            city("Leipzig", "Sachsen", "04###", ""),
        ],
        streets: &["Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Lindenweg", "Goethestraße"],
        number_first: false,
        company_suffixes: &["GmbH", "GmbH", "AG", "KG"],
    },
    Country {
        code: "FR",
        currency: "EUR",
        per_1000_usd: 920,
        weight: 7,
        utc_offset_min: 60,
        cultures: (FRENCH, ANGLO),
        phone: PhoneStyle::Fr,
        cities: &[
            city("Paris", "Île-de-France", "750%#", ""),
            city("Lyon", "Auvergne-Rhône-Alpes", "6900%", ""),
            city("Marseille", "Provence-Alpes-Côte d'Azur", "130##", ""),
            city("Toulouse", "Occitanie", "310##", ""),
            city("Bordeaux", "Nouvelle-Aquitaine", "330##", ""),
            city("Lille", "Hauts-de-France", "590##", ""),
            city("Nantes", "Pays de la Loire", "440##", ""),
        ],
        streets: &["rue de la Paix", "avenue Victor Hugo", "rue Pasteur", "boulevard Voltaire", "rue du Moulin"],
        number_first: true,
        company_suffixes: &["SARL", "SAS", "SA"],
    },
    Country {
        code: "SG",
        currency: "SGD",
        per_1000_usd: 1_350,
        weight: 4,
        utc_offset_min: 8 * 60,
        cultures: (CHINESE, MALAY),
        phone: PhoneStyle::Sg,
        cities: &[
            city("Singapore", "Central Region", "%#####", ""),
            city("Singapore", "East Region", "4#####", ""),
            city("Singapore", "North Region", "7#####", ""),
            city("Singapore", "North-East Region", "5#####", ""),
            city("Singapore", "West Region", "6#####", ""),
        ],
        streets: &[
            "Orchard Road",
            "Tampines Avenue 5",
            "Jurong West Street 41",
            "Ang Mo Kio Avenue 3",
            "Bukit Timah Road",
        ],
        number_first: true,
        company_suffixes: &["Pte. Ltd."],
    },
    Country {
        code: "CN",
        currency: "CNY",
        per_1000_usd: 7_200,
        weight: 10,
        utc_offset_min: 8 * 60,
        cultures: (CHINESE, CHINESE),
        phone: PhoneStyle::Cn,
        cities: &[
            city("Shanghai", "Shanghai", "200###", ""),
            city("Beijing", "Beijing", "100###", ""),
            city("Shenzhen", "Guangdong", "518###", ""),
            city("Guangzhou", "Guangdong", "510###", ""),
            city("Hangzhou", "Zhejiang", "310###", ""),
            city("Chengdu", "Sichuan", "610###", ""),
        ],
        streets: &["Nanjing Road", "Huaihai Road", "Jianguo Road", "Zhongshan Road", "Renmin Road"],
        number_first: true,
        company_suffixes: &["Co., Ltd."],
    },
    Country {
        code: "JP",
        currency: "JPY",
        per_1000_usd: 150_000,
        weight: 8,
        utc_offset_min: 9 * 60,
        cultures: (JAPANESE, JAPANESE),
        phone: PhoneStyle::Jp,
        cities: &[
            city("Tokyo", "Tokyo", "1%#-####", ""),
            city("Osaka", "Osaka", "5%#-####", ""),
            city("Yokohama", "Kanagawa", "2%#-####", ""),
            city("Nagoya", "Aichi", "4%#-####", ""),
            city("Sapporo", "Hokkaido", "06%-####", ""),
            city("Fukuoka", "Fukuoka", "81%-####", ""),
            city("Kyoto", "Kyoto", "60%-####", ""),
        ],
        streets: &["Jingumae", "Nishi-Shinjuku", "Umeda", "Sakae", "Minatomirai", "Tenjin"],
        number_first: true,
        company_suffixes: &["K.K.", "Co., Ltd."],
    },
    Country {
        code: "AU",
        currency: "AUD",
        per_1000_usd: 1_520,
        weight: 5,
        utc_offset_min: 10 * 60,
        cultures: (ANGLO, CHINESE),
        phone: PhoneStyle::Au,
        cities: &[
            city("Sydney", "NSW", "2%##", ""),
            city("Melbourne", "VIC", "3%##", ""),
            city("Brisbane", "QLD", "4%##", ""),
            city("Perth", "WA", "6%##", ""),
            city("Adelaide", "SA", "5%##", ""),
        ],
        streets: &["George Street", "Collins Street", "Queen Street", "Hay Street", "King William Street"],
        number_first: true,
        company_suffixes: &["Pty Ltd"],
    },
    Country {
        code: "IN",
        currency: "INR",
        per_1000_usd: 83_000,
        weight: 10,
        utc_offset_min: 5 * 60 + 30,
        cultures: (INDIAN, INDIAN),
        phone: PhoneStyle::In,
        cities: &[
            city("Mumbai", "Maharashtra", "400###", ""),
            city("Delhi", "Delhi", "110###", ""),
            city("Bengaluru", "Karnataka", "560###", ""),
            city("Chennai", "Tamil Nadu", "600###", ""),
            city("Hyderabad", "Telangana", "500###", ""),
            city("Kolkata", "West Bengal", "700###", ""),
            city("Pune", "Maharashtra", "411###", ""),
        ],
        streets: &["MG Road", "Linking Road", "Park Street", "Anna Salai", "Brigade Road", "FC Road"],
        number_first: true,
        company_suffixes: &["Pvt. Ltd.", "Ltd."],
    },
    Country {
        code: "BR",
        currency: "BRL",
        per_1000_usd: 5_000,
        weight: 7,
        utc_offset_min: -3 * 60,
        cultures: (BRAZILIAN, HISPANIC),
        phone: PhoneStyle::Br,
        cities: &[
            city("São Paulo", "SP", "0%###-###", "11"),
            city("Rio de Janeiro", "RJ", "2%###-###", "21"),
            city("Belo Horizonte", "MG", "3%###-###", "31"),
            city("Curitiba", "PR", "8%###-###", "41"),
            city("Porto Alegre", "RS", "9%###-###", "51"),
            city("Brasília", "DF", "7%###-###", "61"),
            city("Salvador", "BA", "4%###-###", "71"),
            city("Recife", "PE", "5%###-###", "81"),
        ],
        streets: &["Rua Augusta", "Avenida Paulista", "Rua das Flores", "Avenida Atlântica", "Rua XV de Novembro"],
        number_first: false,
        company_suffixes: &["Ltda.", "S.A."],
    },
];

/// Email domains for people. All reserved for documentation (RFC 2606 / RFC 6761), so
/// generated data can never reach a real mailbox.
pub(super) const EMAIL_DOMAINS: &[(&str, u32)] =
    &[("example.com", 40), ("example.net", 20), ("example.org", 15), ("mail.example", 15), ("inbox.test", 10)];

pub(super) const JOB_TITLES: &[&str] = &[
    "Software Engineer",
    "Teacher",
    "Nurse",
    "Marketing Manager",
    "Accountant",
    "Designer",
    "Sales Director",
    "Chef",
    "Consultant",
    "Student",
    "Architect",
    "Pharmacist",
    "Product Manager",
    "Photographer",
    "Lawyer",
    "Civil Engineer",
];

pub(super) const CONTACT_TITLES: &[&str] =
    &["Procurement Manager", "Office Manager", "Head of Operations", "Buyer", "Managing Director", "Purchasing Lead"];

pub(super) const COMPANY_WORDS: &[(&str, &str)] = &[
    ("Northwind", "northwind"),
    ("Blue River", "blue-river"),
    ("Summit", "summit"),
    ("Pioneer", "pioneer"),
    ("Evergreen", "evergreen"),
    ("Apex", "apex"),
    ("Harbor", "harbor"),
    ("Sunrise", "sunrise"),
    ("Silverline", "silverline"),
    ("Redwood", "redwood"),
    ("Lotus", "lotus"),
    ("Meridian", "meridian"),
];

pub(super) const BUSINESS_WORDS: &[(&str, &str)] = &[
    ("Trading", "trading"),
    ("Logistics", "logistics"),
    ("Foods", "foods"),
    ("Systems", "systems"),
    ("Retail", "retail"),
    ("Supplies", "supplies"),
    ("Consulting", "consulting"),
    ("Industries", "industries"),
    ("Technologies", "tech"),
    ("Partners", "partners"),
    ("Hospitality", "hospitality"),
    ("Distribution", "distribution"),
];

pub(super) const INDUSTRIES: &[&str] = &[
    "Retail",
    "Manufacturing",
    "Hospitality",
    "Healthcare",
    "Education",
    "Technology",
    "Logistics",
    "Construction",
    "Finance",
    "Media",
    "Agriculture",
    "Wholesale",
];

pub(super) const COMPANY_MAILBOXES: &[&str] = &["info", "sales", "purchasing", "accounts", "office", "orders"];

pub(super) const ACQUISITION_SOURCES: &[(&str, u32)] =
    &[("web", 40), ("store", 20), ("referral", 12), ("ads", 15), ("partner", 5), ("import", 8)];

pub(super) const PLANS: &[(&str, u32)] = &[("free", 40), ("bronze", 25), ("silver", 18), ("gold", 12), ("platinum", 5)];

pub(super) const LANGUAGES: &[&str] = &["en", "es", "de", "fr", "zh", "ms", "ja", "hi", "pt"];

/// Catalogue categories: name, SKU prefix, number of SKUs, price range in USD cents.
pub(super) const CATEGORIES: [(&str, &str, u32, i64, i64); 12] = [
    ("shoes", "SHO", 45, 2_999, 24_999),
    ("apparel", "APP", 70, 999, 14_999),
    ("electronics", "ELE", 50, 1_999, 199_999),
    ("books", "BOO", 60, 499, 5_999),
    ("home", "HOM", 50, 999, 59_999),
    ("beauty", "BEA", 40, 499, 12_999),
    ("toys", "TOY", 35, 799, 14_999),
    ("sports", "SPO", 40, 1_499, 89_999),
    ("grocery", "GRO", 45, 199, 4_999),
    ("garden", "GAR", 25, 999, 49_999),
    ("jewelry", "JEW", 20, 2_999, 299_999),
    ("office", "OFF", 20, 299, 39_999),
];

pub(super) const ORDER_CHANNELS: [(&str, u32); 5] =
    [("web", 45), ("app", 22), ("store", 18), ("marketplace", 10), ("phone", 5)];

/// Relative weight of each local hour of the day for orders and interactions.
pub(super) const HOUR_WEIGHTS: [(i64, u32); 24] = [
    (0, 2),
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 2),
    (6, 3),
    (7, 5),
    (8, 7),
    (9, 8),
    (10, 9),
    (11, 10),
    (12, 12),
    (13, 11),
    (14, 9),
    (15, 8),
    (16, 8),
    (17, 9),
    (18, 10),
    (19, 12),
    (20, 13),
    (21, 11),
    (22, 7),
    (23, 4),
];

pub(super) const CALL_SUBJECTS: &[&str] = &[
    "Question about an order",
    "Delivery status",
    "Billing question",
    "Product advice",
    "Follow-up call",
    "Account update",
    "Return request",
];
pub(super) const EMAIL_IN_SUBJECTS: &[&str] =
    &["Where is my parcel?", "Invoice request", "Change of address", "Question about sizing", "Return request"];
pub(super) const EMAIL_OUT_SUBJECTS: &[&str] = &[
    "Welcome aboard!",
    "Your order has shipped",
    "Newsletter: new arrivals",
    "We miss you: 15% off your next order",
    "Your receipt",
    "Seasonal sale starts today",
    "Please rate your recent purchase",
];
pub(super) const MEETING_SUBJECTS: &[&str] =
    &["Quarterly business review", "Product demo", "Contract renewal", "Onboarding session", "Pricing discussion"];
pub(super) const CHAT_SUBJECTS: &[&str] =
    &["Order tracking", "Discount code not working", "Stock availability", "Payment failed", "Size exchange"];
pub(super) const VISIT_SUBJECTS: &[&str] =
    &["Store visit", "Click & collect pickup", "In-store fitting", "Workshop attendance"];
pub(super) const NOTE_SUBJECTS: &[&str] =
    &["Account note", "Prefers phone contact", "Asked for catalogue", "VIP handling", "Do not call before 10am"];
pub(super) const FEEDBACK_SUBJECTS: &[&str] =
    &["Product review", "Delivery feedback", "Website feedback", "Store experience", "Support experience"];
pub(super) const COMPLAINT_SUBJECTS: &[&str] =
    &["Late delivery", "Damaged item", "Wrong size delivered", "Refund not received", "Rude staff", "Overcharged"];
pub(super) const SURVEY_SUBJECTS: &[&str] = &["NPS survey", "Post-purchase survey", "Annual customer survey"];
pub(super) const WEB_EVENTS: &[&str] =
    &["page_view", "product_view", "search", "add_to_cart", "cart_abandoned", "wishlist_add", "login", "signup"];
/// Subject and payload `type` of custom interactions.
pub(super) const CUSTOM_SUBJECTS: &[(&str, &str)] = &[
    ("Loyalty points redeemed", "loyalty_redemption"),
    ("Referral bonus", "referral_bonus"),
    ("Gift card purchased", "gift_card"),
    ("Warranty registered", "warranty"),
];

pub(super) const BODIES: &[&str] = &[
    "Customer asked for an update and was given the tracking link.",
    "Resolved on first contact.",
    "Escalated to the second-line team; promised a call back within 24 hours.",
    "Customer was happy with the outcome and thanked the agent.",
    "Offered a voucher as a goodwill gesture.",
    "Customer will think about it and get back to us next week.",
    "Sent the requested documents by email.",
];

/// Han characters of every [`CHINESE`] name, which the culture's tables hold in pinyin (or,
/// for Tan and Lim, in the Hokkien romanisation used in Singapore and Malaysia: both Chen
/// and Tan are 陈, as for real people). Duplicates write a Chinese name this way, surname
/// first without a space: 王伟 for "Wei Wang".
pub(super) const HAN: &[(&str, &str)] = &[
    ("Wei", "伟"),
    ("Fang", "芳"),
    ("Jing", "静"),
    ("Lei", "磊"),
    ("Min", "敏"),
    ("Hao", "浩"),
    ("Xiaoling", "晓玲"),
    ("Jun", "军"),
    ("Wang", "王"),
    ("Li", "李"),
    ("Zhang", "张"),
    ("Liu", "刘"),
    ("Chen", "陈"),
    ("Tan", "陈"),
    ("Lim", "林"),
    ("Huang", "黄"),
];

/// Usual short forms of the first names in [`CULTURES`] that have one.
pub(super) const NICKNAMES: &[(&str, &[&str])] = &[
    ("James", &["Jim", "Jimmy"]),
    ("Michael", &["Mike", "Mick"]),
    ("Jennifer", &["Jen", "Jenny"]),
    ("Oliver", &["Ollie"]),
    ("William", &["Bill", "Will", "Liam"]),
    ("Charlotte", &["Charlie", "Lottie"]),
    ("Emily", &["Em", "Emmy"]),
    ("Santiago", &["Santi"]),
    ("Valentina", &["Vale"]),
    ("Sofía", &["Sofi"]),
    ("Maximilian", &["Max"]),
    ("Lukas", &["Luke"]),
    ("Muhammad", &["Mohd", "Mohamed"]),
    ("Rafael", &["Rafa"]),
    ("Beatriz", &["Bia"]),
    ("Gabriel", &["Gabi"]),
];

/// Street words and their usual abbreviation, in the streets of [`COUNTRIES`]. A word ending
/// in `straße` is abbreviated to `str.` (`Hauptstraße` as `Hauptstr.`).
pub(super) const STREET_ABBREVIATIONS: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Road", "Rd"),
    ("Avenue", "Ave"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("avenue", "av."),
    ("boulevard", "bd"),
    ("Avenida", "Av."),
    ("Rua", "R."),
];

/// Every company legal form in [`COUNTRIES`] and other spellings of the same form; an empty
/// list for forms that are dropped rather than respelled (`GmbH`).
pub(super) const LEGAL_FORMS: &[(&str, &[&str])] = &[
    ("Inc.", &["Inc", "Incorporated"]),
    ("LLC", &["L.L.C."]),
    ("Corp.", &["Corp", "Corporation"]),
    ("Ltd", &["Limited", "Ltd."]),
    ("PLC", &["plc", "Public Limited Company"]),
    ("GmbH", &[]),
    ("AG", &[]),
    ("KG", &[]),
    ("SARL", &["S.A.R.L."]),
    ("SAS", &["S.A.S."]),
    ("SA", &["S.A."]),
    ("Pte. Ltd.", &["Pte Ltd", "Private Limited"]),
    ("Co., Ltd.", &["Co. Ltd.", "Company Limited"]),
    ("K.K.", &["KK", "Kabushiki Kaisha"]),
    ("Pty Ltd", &["Pty. Ltd.", "Proprietary Limited"]),
    ("Pvt. Ltd.", &["Pvt Ltd", "Private Limited"]),
    ("Ltd.", &["Ltd", "Limited"]),
    ("Ltda.", &["Ltda", "Limitada"]),
    ("S.A.", &["SA"]),
];

/// Local-part tags (`name+shop@...`) on duplicates' email addresses.
pub(super) const EMAIL_TAGS: &[&str] = &["shop", "news", "orders", "promo", "crm"];
