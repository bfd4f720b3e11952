//! The regions the service can name (`api.md` Appendix A.1): GENC code, GENC name and
//! maximum radius.
//!
//! These 247 regions are exactly the codes the region API can return. The radius (the
//! largest distance from a region polygon's centroid to its boundary, rounded to 1 km)
//! is the accuracy of every region answer and the upper bound of GeoIP accuracies, so
//! a tiny region like the Vatican never gets a country-sized circle. The table is a
//! sorted constant: lookups are a binary search, and no data file has to be shipped or
//! parsed for the locate path. The region *shapes* (point-in-region lookups) are a
//! separate concern that the pipeline needs and locate does not.

/// A region the service knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// GENC alpha-2 code.
    pub code: &'static str,
    /// GENC short name, as returned in `country_name`.
    pub name: &'static str,
    /// Maximum radius in metres.
    pub radius: f64,
}

/// The region for an exact (uppercase) GENC code; `None` for unknown codes such as
/// `XX` or lowercase `us`.
pub fn region_for_code(code: &str) -> Option<&'static Region> {
    REGIONS
        .binary_search_by(|r| r.code.cmp(code))
        .ok()
        .map(|i| &REGIONS[i])
}

/// The maximum radius of a region in metres, when the code is known.
pub fn region_max_radius(code: &str) -> Option<f64> {
    region_for_code(code).map(|r| r.radius)
}

/// Every known region, sorted by code.
pub static REGIONS: [Region; 247] = [
    Region {
        code: "AD",
        name: "Andorra",
        radius: 16000.0,
    },
    Region {
        code: "AE",
        name: "United Arab Emirates",
        radius: 279000.0,
    },
    Region {
        code: "AF",
        name: "Afghanistan",
        radius: 836000.0,
    },
    Region {
        code: "AG",
        name: "Antigua and Barbuda",
        radius: 12000.0,
    },
    Region {
        code: "AI",
        name: "Anguilla",
        radius: 11000.0,
    },
    Region {
        code: "AL",
        name: "Albania",
        radius: 173000.0,
    },
    Region {
        code: "AM",
        name: "Armenia",
        radius: 183000.0,
    },
    Region {
        code: "AO",
        name: "Angola",
        radius: 1077000.0,
    },
    Region {
        code: "AQ",
        name: "Antarctica",
        radius: 4592000.0,
    },
    Region {
        code: "AR",
        name: "Argentina",
        radius: 1741000.0,
    },
    Region {
        code: "AS",
        name: "American Samoa",
        radius: 15000.0,
    },
    Region {
        code: "AT",
        name: "Austria",
        radius: 294000.0,
    },
    Region {
        code: "AU",
        name: "Australia",
        radius: 2299000.0,
    },
    Region {
        code: "AW",
        name: "Aruba",
        radius: 14000.0,
    },
    Region {
        code: "AZ",
        name: "Azerbaijan",
        radius: 282000.0,
    },
    Region {
        code: "BA",
        name: "Bosnia and Herzegovina",
        radius: 200000.0,
    },
    Region {
        code: "BB",
        name: "Barbados",
        radius: 17000.0,
    },
    Region {
        code: "BD",
        name: "Bangladesh",
        radius: 383000.0,
    },
    Region {
        code: "BE",
        name: "Belgium",
        radius: 160000.0,
    },
    Region {
        code: "BF",
        name: "Burkina Faso",
        radius: 466000.0,
    },
    Region {
        code: "BG",
        name: "Bulgaria",
        radius: 297000.0,
    },
    Region {
        code: "BH",
        name: "Bahrain",
        radius: 32000.0,
    },
    Region {
        code: "BI",
        name: "Burundi",
        radius: 157000.0,
    },
    Region {
        code: "BJ",
        name: "Benin",
        radius: 414000.0,
    },
    Region {
        code: "BL",
        name: "Saint Barthelemy",
        radius: 5000.0,
    },
    Region {
        code: "BM",
        name: "Bermuda",
        radius: 12000.0,
    },
    Region {
        code: "BN",
        name: "Brunei",
        radius: 74000.0,
    },
    Region {
        code: "BO",
        name: "Bolivia",
        radius: 854000.0,
    },
    Region {
        code: "BQ",
        name: "Bonaire, Sint Eustatius, and Saba",
        radius: 17000.0,
    },
    Region {
        code: "BR",
        name: "Brazil",
        radius: 2627000.0,
    },
    Region {
        code: "BS",
        name: "Bahamas, The",
        radius: 435000.0,
    },
    Region {
        code: "BT",
        name: "Bhutan",
        radius: 190000.0,
    },
    Region {
        code: "BW",
        name: "Botswana",
        radius: 597000.0,
    },
    Region {
        code: "BY",
        name: "Belarus",
        radius: 384000.0,
    },
    Region {
        code: "BZ",
        name: "Belize",
        radius: 198000.0,
    },
    Region {
        code: "CA",
        name: "Canada",
        radius: 2904000.0,
    },
    Region {
        code: "CC",
        name: "Cocos (Keeling) Islands",
        radius: 7000.0,
    },
    Region {
        code: "CD",
        name: "Congo (Kinshasa)",
        radius: 1270000.0,
    },
    Region {
        code: "CF",
        name: "Central African Republic",
        radius: 778000.0,
    },
    Region {
        code: "CG",
        name: "Congo (Brazzaville)",
        radius: 685000.0,
    },
    Region {
        code: "CH",
        name: "Switzerland",
        radius: 177000.0,
    },
    Region {
        code: "CI",
        name: "Côte d’Ivoire",
        radius: 466000.0,
    },
    Region {
        code: "CK",
        name: "Cook Islands",
        radius: 6000.0,
    },
    Region {
        code: "CL",
        name: "Chile",
        radius: 2584000.0,
    },
    Region {
        code: "CM",
        name: "Cameroon",
        radius: 694000.0,
    },
    Region {
        code: "CN",
        name: "China",
        radius: 2905000.0,
    },
    Region {
        code: "CO",
        name: "Colombia",
        radius: 1020000.0,
    },
    Region {
        code: "CR",
        name: "Costa Rica",
        radius: 236000.0,
    },
    Region {
        code: "CU",
        name: "Cuba",
        radius: 584000.0,
    },
    Region {
        code: "CV",
        name: "Cabo Verde",
        radius: 188000.0,
    },
    Region {
        code: "CW",
        name: "Curaçao",
        radius: 34000.0,
    },
    Region {
        code: "CX",
        name: "Christmas Island",
        radius: 9000.0,
    },
    Region {
        code: "CY",
        name: "Cyprus",
        radius: 129000.0,
    },
    Region {
        code: "CZ",
        name: "Czech Republic",
        radius: 247000.0,
    },
    Region {
        code: "DE",
        name: "Germany",
        radius: 463000.0,
    },
    Region {
        code: "DJ",
        name: "Djibouti",
        radius: 135000.0,
    },
    Region {
        code: "DK",
        name: "Denmark",
        radius: 207000.0,
    },
    Region {
        code: "DM",
        name: "Dominica",
        radius: 26000.0,
    },
    Region {
        code: "DO",
        name: "Dominican Republic",
        radius: 238000.0,
    },
    Region {
        code: "DZ",
        name: "Algeria",
        radius: 1323000.0,
    },
    Region {
        code: "EC",
        name: "Ecuador",
        radius: 431000.0,
    },
    Region {
        code: "EE",
        name: "Estonia",
        radius: 217000.0,
    },
    Region {
        code: "EG",
        name: "Egypt",
        radius: 982000.0,
    },
    Region {
        code: "EH",
        name: "Western Sahara",
        radius: 589000.0,
    },
    Region {
        code: "ER",
        name: "Eritrea",
        radius: 442000.0,
    },
    Region {
        code: "ES",
        name: "Spain",
        radius: 631000.0,
    },
    Region {
        code: "ET",
        name: "Ethiopia",
        radius: 1045000.0,
    },
    Region {
        code: "FI",
        name: "Finland",
        radius: 581000.0,
    },
    Region {
        code: "FJ",
        name: "Fiji",
        radius: 231000.0,
    },
    Region {
        code: "FK",
        name: "Falkland Islands (Islas Malvinas)",
        radius: 121000.0,
    },
    Region {
        code: "FM",
        name: "Micronesia, Federated States of",
        radius: 20000.0,
    },
    Region {
        code: "FO",
        name: "Faroe Islands",
        radius: 62000.0,
    },
    Region {
        code: "FR",
        name: "France",
        radius: 570000.0,
    },
    Region {
        code: "GA",
        name: "Gabon",
        radius: 388000.0,
    },
    Region {
        code: "GB",
        name: "United Kingdom",
        radius: 543000.0,
    },
    Region {
        code: "GD",
        name: "Grenada",
        radius: 17000.0,
    },
    Region {
        code: "GE",
        name: "Georgia",
        radius: 323000.0,
    },
    Region {
        code: "GF",
        name: "French Guiana",
        radius: 246000.0,
    },
    Region {
        code: "GG",
        name: "Guernsey",
        radius: 6000.0,
    },
    Region {
        code: "GH",
        name: "Ghana",
        radius: 409000.0,
    },
    Region {
        code: "GI",
        name: "Gibraltar",
        radius: 3000.0,
    },
    Region {
        code: "GL",
        name: "Greenland",
        radius: 1617000.0,
    },
    Region {
        code: "GM",
        name: "Gambia, The",
        radius: 164000.0,
    },
    Region {
        code: "GN",
        name: "Guinea",
        radius: 466000.0,
    },
    Region {
        code: "GP",
        name: "Guadeloupe",
        radius: 40000.0,
    },
    Region {
        code: "GQ",
        name: "Equatorial Guinea",
        radius: 174000.0,
    },
    Region {
        code: "GR",
        name: "Greece",
        radius: 434000.0,
    },
    Region {
        code: "GS",
        name: "South Georgia and South Sandwich Islands",
        radius: 87000.0,
    },
    Region {
        code: "GT",
        name: "Guatemala",
        radius: 294000.0,
    },
    Region {
        code: "GU",
        name: "Guam",
        radius: 24000.0,
    },
    Region {
        code: "GW",
        name: "Guinea-Bissau",
        radius: 201000.0,
    },
    Region {
        code: "GY",
        name: "Guyana",
        radius: 453000.0,
    },
    Region {
        code: "HK",
        name: "Hong Kong",
        radius: 29000.0,
    },
    Region {
        code: "HM",
        name: "Heard Island and McDonald Islands",
        radius: 24000.0,
    },
    Region {
        code: "HN",
        name: "Honduras",
        radius: 368000.0,
    },
    Region {
        code: "HR",
        name: "Croatia",
        radius: 310000.0,
    },
    Region {
        code: "HT",
        name: "Haiti",
        radius: 176000.0,
    },
    Region {
        code: "HU",
        name: "Hungary",
        radius: 272000.0,
    },
    Region {
        code: "ID",
        name: "Indonesia",
        radius: 1991000.0,
    },
    Region {
        code: "IE",
        name: "Ireland",
        radius: 237000.0,
    },
    Region {
        code: "IL",
        name: "Israel",
        radius: 283000.0,
    },
    Region {
        code: "IM",
        name: "Isle of Man",
        radius: 26000.0,
    },
    Region {
        code: "IN",
        name: "India",
        radius: 1909000.0,
    },
    Region {
        code: "IO",
        name: "British Indian Ocean Territory",
        radius: 13000.0,
    },
    Region {
        code: "IQ",
        name: "Iraq",
        radius: 565000.0,
    },
    Region {
        code: "IR",
        name: "Iran",
        radius: 1175000.0,
    },
    Region {
        code: "IS",
        name: "Iceland",
        radius: 257000.0,
    },
    Region {
        code: "IT",
        name: "Italy",
        radius: 633000.0,
    },
    Region {
        code: "JE",
        name: "Jersey",
        radius: 10000.0,
    },
    Region {
        code: "JM",
        name: "Jamaica",
        radius: 123000.0,
    },
    Region {
        code: "JO",
        name: "Jordan",
        radius: 299000.0,
    },
    Region {
        code: "JP",
        name: "Japan",
        radius: 1004000.0,
    },
    Region {
        code: "KE",
        name: "Kenya",
        radius: 658000.0,
    },
    Region {
        code: "KG",
        name: "Kyrgyzstan",
        radius: 566000.0,
    },
    Region {
        code: "KH",
        name: "Cambodia",
        radius: 336000.0,
    },
    Region {
        code: "KI",
        name: "Kiribati",
        radius: 64000.0,
    },
    Region {
        code: "KM",
        name: "Comoros",
        radius: 34000.0,
    },
    Region {
        code: "KN",
        name: "Saint Kitts and Nevis",
        radius: 22000.0,
    },
    Region {
        code: "KP",
        name: "Korea, North",
        radius: 385000.0,
    },
    Region {
        code: "KR",
        name: "Korea, South",
        radius: 310000.0,
    },
    Region {
        code: "KW",
        name: "Kuwait",
        radius: 120000.0,
    },
    Region {
        code: "KY",
        name: "Cayman Islands",
        radius: 22000.0,
    },
    Region {
        code: "KZ",
        name: "Kazakhstan",
        radius: 1646000.0,
    },
    Region {
        code: "LA",
        name: "Laos",
        radius: 557000.0,
    },
    Region {
        code: "LB",
        name: "Lebanon",
        radius: 117000.0,
    },
    Region {
        code: "LC",
        name: "Saint Lucia",
        radius: 22000.0,
    },
    Region {
        code: "LI",
        name: "Liechtenstein",
        radius: 14000.0,
    },
    Region {
        code: "LK",
        name: "Sri Lanka",
        radius: 239000.0,
    },
    Region {
        code: "LR",
        name: "Liberia",
        radius: 330000.0,
    },
    Region {
        code: "LS",
        name: "Lesotho",
        radius: 121000.0,
    },
    Region {
        code: "LT",
        name: "Lithuania",
        radius: 219000.0,
    },
    Region {
        code: "LU",
        name: "Luxembourg",
        radius: 47000.0,
    },
    Region {
        code: "LV",
        name: "Latvia",
        radius: 241000.0,
    },
    Region {
        code: "LY",
        name: "Libya",
        radius: 1400000.0,
    },
    Region {
        code: "MA",
        name: "Morocco",
        radius: 1177000.0,
    },
    Region {
        code: "MC",
        name: "Monaco",
        radius: 3000.0,
    },
    Region {
        code: "MD",
        name: "Moldova",
        radius: 190000.0,
    },
    Region {
        code: "ME",
        name: "Montenegro",
        radius: 96000.0,
    },
    Region {
        code: "MF",
        name: "Saint Martin",
        radius: 7000.0,
    },
    Region {
        code: "MG",
        name: "Madagascar",
        radius: 873000.0,
    },
    Region {
        code: "MH",
        name: "Marshall Islands",
        radius: 22000.0,
    },
    Region {
        code: "MK",
        name: "Macedonia",
        radius: 118000.0,
    },
    Region {
        code: "ML",
        name: "Mali",
        radius: 1208000.0,
    },
    Region {
        code: "MM",
        name: "Burma",
        radius: 1058000.0,
    },
    Region {
        code: "MN",
        name: "Mongolia",
        radius: 1263000.0,
    },
    Region {
        code: "MO",
        name: "Macau",
        radius: 5000.0,
    },
    Region {
        code: "MP",
        name: "Northern Mariana Islands",
        radius: 25000.0,
    },
    Region {
        code: "MQ",
        name: "Martinique",
        radius: 32000.0,
    },
    Region {
        code: "MR",
        name: "Mauritania",
        radius: 1079000.0,
    },
    Region {
        code: "MS",
        name: "Montserrat",
        radius: 8000.0,
    },
    Region {
        code: "MT",
        name: "Malta",
        radius: 23000.0,
    },
    Region {
        code: "MU",
        name: "Mauritius",
        radius: 35000.0,
    },
    Region {
        code: "MV",
        name: "Maldives",
        radius: 6000.0,
    },
    Region {
        code: "MW",
        name: "Malawi",
        radius: 489000.0,
    },
    Region {
        code: "MX",
        name: "Mexico",
        radius: 1824000.0,
    },
    Region {
        code: "MY",
        name: "Malaysia",
        radius: 642000.0,
    },
    Region {
        code: "MZ",
        name: "Mozambique",
        radius: 1116000.0,
    },
    Region {
        code: "NA",
        name: "Namibia",
        radius: 936000.0,
    },
    Region {
        code: "NC",
        name: "New Caledonia",
        radius: 266000.0,
    },
    Region {
        code: "NE",
        name: "Niger",
        radius: 1219000.0,
    },
    Region {
        code: "NF",
        name: "Norfolk Island",
        radius: 5000.0,
    },
    Region {
        code: "NG",
        name: "Nigeria",
        radius: 741000.0,
    },
    Region {
        code: "NI",
        name: "Nicaragua",
        radius: 310000.0,
    },
    Region {
        code: "NL",
        name: "Netherlands",
        radius: 191000.0,
    },
    Region {
        code: "NO",
        name: "Norway",
        radius: 1040000.0,
    },
    Region {
        code: "NP",
        name: "Nepal",
        radius: 427000.0,
    },
    Region {
        code: "NR",
        name: "Nauru",
        radius: 4000.0,
    },
    Region {
        code: "NU",
        name: "Niue",
        radius: 12000.0,
    },
    Region {
        code: "NZ",
        name: "New Zealand",
        radius: 813000.0,
    },
    Region {
        code: "OM",
        name: "Oman",
        radius: 618000.0,
    },
    Region {
        code: "PA",
        name: "Panama",
        radius: 363000.0,
    },
    Region {
        code: "PE",
        name: "Peru",
        radius: 1215000.0,
    },
    Region {
        code: "PF",
        name: "French Polynesia",
        radius: 49000.0,
    },
    Region {
        code: "PG",
        name: "Papua New Guinea",
        radius: 922000.0,
    },
    Region {
        code: "PH",
        name: "Philippines",
        radius: 848000.0,
    },
    Region {
        code: "PK",
        name: "Pakistan",
        radius: 966000.0,
    },
    Region {
        code: "PL",
        name: "Poland",
        radius: 425000.0,
    },
    Region {
        code: "PM",
        name: "Saint Pierre and Miquelon",
        radius: 25000.0,
    },
    Region {
        code: "PN",
        name: "Pitcairn Islands",
        radius: 5000.0,
    },
    Region {
        code: "PR",
        name: "Puerto Rico",
        radius: 107000.0,
    },
    Region {
        code: "PT",
        name: "Portugal",
        radius: 316000.0,
    },
    Region {
        code: "PW",
        name: "Palau",
        radius: 21000.0,
    },
    Region {
        code: "PY",
        name: "Paraguay",
        radius: 635000.0,
    },
    Region {
        code: "QA",
        name: "Qatar",
        radius: 98000.0,
    },
    Region {
        code: "RE",
        name: "Reunion",
        radius: 38000.0,
    },
    Region {
        code: "RO",
        name: "Romania",
        radius: 383000.0,
    },
    Region {
        code: "RS",
        name: "Serbia",
        radius: 268000.0,
    },
    Region {
        code: "RU",
        name: "Russia",
        radius: 4262000.0,
    },
    Region {
        code: "RW",
        name: "Rwanda",
        radius: 132000.0,
    },
    Region {
        code: "SA",
        name: "Saudi Arabia",
        radius: 1291000.0,
    },
    Region {
        code: "SB",
        name: "Solomon Islands",
        radius: 456000.0,
    },
    Region {
        code: "SC",
        name: "Seychelles",
        radius: 15000.0,
    },
    Region {
        code: "SD",
        name: "Sudan",
        radius: 1201000.0,
    },
    Region {
        code: "SE",
        name: "Sweden",
        radius: 789000.0,
    },
    Region {
        code: "SG",
        name: "Singapore",
        radius: 23000.0,
    },
    Region {
        code: "SH",
        name: "Saint Helena, Ascension, and Tristan da Cunha",
        radius: 8000.0,
    },
    Region {
        code: "SI",
        name: "Slovenia",
        radius: 142000.0,
    },
    Region {
        code: "SK",
        name: "Slovakia",
        radius: 216000.0,
    },
    Region {
        code: "SL",
        name: "Sierra Leone",
        radius: 203000.0,
    },
    Region {
        code: "SM",
        name: "San Marino",
        radius: 6000.0,
    },
    Region {
        code: "SN",
        name: "Senegal",
        radius: 399000.0,
    },
    Region {
        code: "SO",
        name: "Somalia",
        radius: 1175000.0,
    },
    Region {
        code: "SR",
        name: "Suriname",
        radius: 301000.0,
    },
    Region {
        code: "SS",
        name: "South Sudan",
        radius: 645000.0,
    },
    Region {
        code: "ST",
        name: "Sao Tome and Principe",
        radius: 22000.0,
    },
    Region {
        code: "SV",
        name: "El Salvador",
        radius: 133000.0,
    },
    Region {
        code: "SX",
        name: "Sint Maarten",
        radius: 7000.0,
    },
    Region {
        code: "SY",
        name: "Syria",
        radius: 427000.0,
    },
    Region {
        code: "SZ",
        name: "Swaziland",
        radius: 95000.0,
    },
    Region {
        code: "TC",
        name: "Turks and Caicos Islands",
        radius: 40000.0,
    },
    Region {
        code: "TD",
        name: "Chad",
        radius: 1219000.0,
    },
    Region {
        code: "TF",
        name: "French Southern and Antarctic Lands",
        radius: 75000.0,
    },
    Region {
        code: "TG",
        name: "Togo",
        radius: 306000.0,
    },
    Region {
        code: "TH",
        name: "Thailand",
        radius: 830000.0,
    },
    Region {
        code: "TJ",
        name: "Tajikistan",
        radius: 396000.0,
    },
    Region {
        code: "TK",
        name: "Tokelau",
        radius: 2000.0,
    },
    Region {
        code: "TL",
        name: "Timor-Leste",
        radius: 163000.0,
    },
    Region {
        code: "TM",
        name: "Turkmenistan",
        radius: 737000.0,
    },
    Region {
        code: "TN",
        name: "Tunisia",
        radius: 474000.0,
    },
    Region {
        code: "TO",
        name: "Tonga",
        radius: 35000.0,
    },
    Region {
        code: "TR",
        name: "Turkey",
        radius: 873000.0,
    },
    Region {
        code: "TT",
        name: "Trinidad and Tobago",
        radius: 73000.0,
    },
    Region {
        code: "TV",
        name: "Tuvalu",
        radius: 370000.0,
    },
    Region {
        code: "TW",
        name: "Taiwan",
        radius: 201000.0,
    },
    Region {
        code: "TZ",
        name: "Tanzania",
        radius: 900000.0,
    },
    Region {
        code: "UA",
        name: "Ukraine",
        radius: 693000.0,
    },
    Region {
        code: "UG",
        name: "Uganda",
        radius: 458000.0,
    },
    Region {
        code: "US",
        name: "United States",
        radius: 2971000.0,
    },
    Region {
        code: "UY",
        name: "Uruguay",
        radius: 299000.0,
    },
    Region {
        code: "UZ",
        name: "Uzbekistan",
        radius: 969000.0,
    },
    Region {
        code: "VA",
        name: "Vatican City",
        radius: 1000.0,
    },
    Region {
        code: "VC",
        name: "Saint Vincent and the Grenadines",
        radius: 26000.0,
    },
    Region {
        code: "VE",
        name: "Venezuela",
        radius: 862000.0,
    },
    Region {
        code: "VG",
        name: "Virgin Islands, British",
        radius: 31000.0,
    },
    Region {
        code: "VI",
        name: "Virgin Islands, U.S.",
        radius: 20000.0,
    },
    Region {
        code: "VN",
        name: "Vietnam",
        radius: 906000.0,
    },
    Region {
        code: "VU",
        name: "Vanuatu",
        radius: 265000.0,
    },
    Region {
        code: "WF",
        name: "Wallis and Futuna",
        radius: 9000.0,
    },
    Region {
        code: "WS",
        name: "Samoa",
        radius: 81000.0,
    },
    Region {
        code: "XK",
        name: "Kosovo",
        radius: 83000.0,
    },
    Region {
        code: "XR",
        name: "Svalbard",
        radius: 270000.0,
    },
    Region {
        code: "XW",
        name: "West Bank",
        radius: 70000.0,
    },
    Region {
        code: "YE",
        name: "Yemen",
        radius: 771000.0,
    },
    Region {
        code: "YT",
        name: "Mayotte",
        radius: 19000.0,
    },
    Region {
        code: "ZA",
        name: "South Africa",
        radius: 1001000.0,
    },
    Region {
        code: "ZM",
        name: "Zambia",
        radius: 831000.0,
    },
    Region {
        code: "ZW",
        name: "Zimbabwe",
        radius: 467000.0,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert_eq!(REGIONS.len(), 247);
        assert!(REGIONS.windows(2).all(|w| w[0].code < w[1].code));
        assert!(
            REGIONS
                .iter()
                .all(|r| r.code.len() == 2 && r.radius >= 1000.0)
        );
    }

    #[test]
    fn lookups() {
        let gb = region_for_code("GB").unwrap();
        assert_eq!((gb.name, gb.radius), ("United Kingdom", 543_000.0));
        assert_eq!(region_max_radius("US"), Some(2_971_000.0));
        assert_eq!(region_max_radius("LI"), Some(14_000.0));
        assert_eq!(region_max_radius("VA"), Some(1000.0));
        assert_eq!(region_max_radius("DE"), Some(463_000.0));
        assert_eq!(region_max_radius("BT"), Some(190_000.0));
        assert_eq!(region_for_code("DE").map(|r| r.name), Some("Germany"));
        assert_eq!(region_for_code("XW").map(|r| r.name), Some("West Bank"));
        assert_eq!(region_for_code("XX"), None);
        assert_eq!(region_for_code("us"), None);
        assert_eq!(region_for_code(""), None);
    }
}
