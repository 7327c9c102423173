//! Nymaim (and GozNym, which carries Nymaim's loader): two unrelated DGAs.
//!
//! * `v1` (2013 to 2017): a xorshift-style generator whose four 32-bit
//!   words start at the date (year + weekday + (month + day) << 16) plus a
//!   128-bit key; 128 names a day of 6 to 11 random letters, the TLD
//!   chosen by the second-to-last letter (.com, .org, .biz, .net, .info).
//!   The date enters only through that one sum, so dates with the same
//!   sum (e.g. 2018-02-24 and 2018-08-18, both Saturdays with month + day
//!   = 26) share their names: the period key is the sum itself.
//! * `v2` (April 2018, "Nymaim2"): two words, an optional hyphen and a TLD
//!   drawn from word lists by an MD5 chain seeded with a string from the
//!   sample's configuration, the year and the day of the year; 64 names
//!   for each of the day and the 10 days before it (a sliding window), so
//!   704 names a day.

use crate::{Dga, Error, Family, Known, Spec, Variant};
use md5::{Digest, Md5};
use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex};
use time::Date;

/// Nymaim.
pub static FAMILY: Family = Family {
    name: "nymaim",
    aliases: &["goznym"],
    title: "Nymaim / GozNym: daily random letters (v1), then word pairs over a sliding 11-day window (v2)",
    variants: &[
        Variant {
            name: "v1",
            summary: "The first Nymaim DGA: four 32-bit state words start at \
                      s = year + weekday (Sunday 0) + (month + day) * 65536 plus the four words of a \
                      128-bit key; a xorshift step yields each draw ((c + d) / 100 mod n). A name \
                      is 6 to 11 letters a-z; its second-to-last letter picks the TLD (a-i .com, \
                      j-m .org, n-q .biz, r-u .net, v-z .info). 128 names a day, tried in order; \
                      dates with the same s share their names.",
            parameters: &[
                (
                    "seed",
                    "128-bit key as 32 hex digits (four 32-bit words, most significant first); \
                     the one published key is 52455641 49484f4c 59554820 4d415620",
                ),
                (
                    "generator",
                    "x = a ^ (a << 11); d' = d ^ (d >> 19) ^ x ^ (x >> 8); draw = ((c + d') / 100) mod n; \
                     a, b, c, d = a + b, b + c, c + d, d'",
                ),
                ("length", "6 to 11 letters (draw mod 6, plus 6)"),
                ("letters", "a-z"),
                (
                    "TLDs",
                    ".com, .org, .biz, .net, .info by the second-to-last letter",
                ),
                ("domains", "128 per day"),
                (
                    "period",
                    "one UTC day; dates with equal year + weekday and month + day share names",
                ),
            ],
            seed_syntax: "128-bit key, 32 hex digits (`5245564149484f4c595548204d415620`)",
            config_syntax: None,
            known: &[Known {
                seed: "5245564149484f4c595548204d415620",
                config: "",
                source: "baderj/domain_generation_algorithms nymaim/dga.py (commit 48f0444 \
                         \"Nymaim\"; its nymaim/example_domains.txt is this key's list of 2018-02-24)",
            }],
            reference: "baderj/domain_generation_algorithms nymaim/dga.py (reimplementation of the \
                        Nymaim DGA; see also CERT Polska, \"Nymaim revisited\", 2016)",
            oracle: "baderj/domain_generation_algorithms nymaim/dga.py",
            build: build_v1,
        },
        Variant {
            name: "v2",
            summary: "Nymaim's second DGA (April 2018): for the day and each of the 10 days before \
                      it, MD5(MD5(seed) in hex + year mod 100 + day of the year, counted from 0 \
                      and going negative in early January) starts a chain of MD5 hex digests; \
                      each name takes four draws (the first 8 hex digits, then the chain moves on \
                      with MD5 of digits 7 to 31) to pick a first word (2,450), a separator \
                      (hyphen or none), a second word (4,387) and a TLD (74 entries, .com and .net \
                      weighted). 64 names per day of the window, newest day first: 704 a day.",
            parameters: &[
                (
                    "seed",
                    "string from the sample's configuration, hashed as text (case matters)",
                ),
                (
                    "word lists",
                    "2,450 first words, 4,387 second words, separators '-' and '', 74 TLDs, \
                     as the 2018 sample carries them",
                ),
                ("window", "the day and the 10 days before it, 64 names each"),
                ("domains", "704 per day"),
                ("period", "one UTC day (year mod 100 and day of the year)"),
            ],
            seed_syntax: "the configuration's seed string (`3138C81ED54AD5F8E905555A6623C9C9`), \
                          printable ASCII, case kept",
            config_syntax: None,
            known: &[Known {
                seed: "3138C81ED54AD5F8E905555A6623C9C9",
                config: "",
                source: "https://johannesbader.ch/2018/04/the-new-domain-generation-algorithm-of-nymaim/ \
                         (sample SHA-256 73f06bed13e22c2ab8b41bde5fc32b6d91680e87d0f57b3563c629ee3c479e73)",
            }],
            reference: "https://johannesbader.ch/2018/04/the-new-domain-generation-algorithm-of-nymaim/ \
                        (J. Bader, \"The new Domain Generation Algorithm of Nymaim\", April 2018)",
            oracle: "baderj/domain_generation_algorithms nymaim2/dga.py with nymaim2/words.json",
            build: build_v2,
        },
    ],
};

// ---------------------------------------------------------------- v1 --

/// Names per day.
const V1_DOMAINS: usize = 128;
/// Shortest name, and how many lengths it may take.
const V1_MIN_LEN: u32 = 6;
const V1_LEN_SPAN: u32 = 6;
/// A draw is the generator's output divided by this before the modulo.
const V1_DIVISOR: u32 = 100;
/// TLDs by the second-to-last letter: a letter index below the bound
/// takes the TLD.
const V1_TLDS: [(u8, &str); 5] = [
    (9, ".com"),
    (13, ".org"),
    (17, ".biz"),
    (21, ".net"),
    (u8::MAX, ".info"),
];

fn build_v1(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    let family = "nymaim/v1";
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: family.into(),
            reason: "this variant takes a key (--seed), not a configuration".into(),
        });
    }
    let raw = spec.seed.ok_or_else(|| Error::NeedsSeed(family.into()))?;
    let bad = |reason: &str| Error::BadSeed {
        family: family.into(),
        seed: raw.chars().take(80).collect(),
        reason: reason.into(),
    };
    let s = raw.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            "expected a 128-bit key as 32 hex digits (four 32-bit words)",
        ));
    }
    let mut key = [0u32; 4];
    for (i, w) in key.iter_mut().enumerate() {
        *w = u32::from_str_radix(&s[i * 8..i * 8 + 8], 16)
            .map_err(|e| bad(&format!("bad hex: {e}")))?;
    }
    Ok(Box::new(NymaimV1 { key }))
}

/// Nymaim v1 with its key.
struct NymaimV1 {
    key: [u32; 4],
}

/// The v1 generator's state.
struct V1Rng {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
}

impl V1Rng {
    fn draw(&mut self, n: u32) -> u32 {
        let x = self.a ^ (self.a << 11);
        let d = self.d ^ (self.d >> 19) ^ x ^ (x >> 8);
        let out = (self.c.wrapping_add(d) / V1_DIVISOR) % n;
        self.a = self.a.wrapping_add(self.b);
        self.b = self.b.wrapping_add(self.c);
        self.c = self.c.wrapping_add(self.d);
        self.d = d;
        out
    }
}

impl NymaimV1 {
    /// The one number the date enters the generator through.
    fn date_sum(date: Date) -> i64 {
        i64::from(date.year())
            + i64::from(date.weekday().number_days_from_sunday())
            + ((i64::from(u8::from(date.month())) + i64::from(date.day())) << 16)
    }
}

impl Dga for NymaimV1 {
    fn family(&self) -> &'static str {
        "nymaim"
    }
    fn variant(&self) -> &'static str {
        "v1"
    }
    fn seed(&self) -> String {
        self.key.iter().map(|w| format!("{w:08x}")).collect()
    }
    fn period(&self, date: Date) -> Option<i64> {
        Some(Self::date_sum(date))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        let s = Self::date_sum(date);
        let word = |k: u32| (s + i64::from(k)) as u32;
        // The second word is not wrapped like the others: a sum past 32
        // bits starts it at 0 (as the reference implementation does; with
        // the published key no date comes near).
        let b = if s + i64::from(self.key[1]) > i64::from(u32::MAX) {
            0
        } else {
            word(self.key[1])
        };
        let mut rng = V1Rng {
            a: word(self.key[0]),
            b,
            c: word(self.key[2]),
            d: word(self.key[3]),
        };
        out.reserve(V1_DOMAINS);
        for _ in 0..V1_DOMAINS {
            let len = (V1_MIN_LEN + rng.draw(V1_LEN_SPAN)) as usize;
            let mut name = String::with_capacity(len + 5);
            for _ in 0..len {
                name.push(char::from(b'a' + rng.draw(26) as u8));
            }
            let pick = name.as_bytes()[len - 2] - b'a';
            let tld = V1_TLDS
                .iter()
                .find(|(bound, _)| pick < *bound)
                .map_or(".info", |(_, t)| t);
            name.push_str(tld);
            out.push(name);
        }
    }
}

// ---------------------------------------------------------------- v2 --

/// Days in the window: the day itself and the 10 before it.
const V2_WINDOW: i32 = 11;
/// Names per day of the window.
const V2_PER_DAY: usize = 64;
/// Separators between the two words.
const V2_SEPARATORS: [&str; 2] = ["-", ""];
/// Blocks of 64 names kept for the next dates (a window, and a little
/// more so that a walk backwards reuses them too).
const V2_CACHED_BLOCKS: usize = 2 * V2_WINDOW as usize;
/// Longest seed accepted (the published one has 32 characters).
const V2_MAX_SEED: usize = 256;

/// The word lists, split once.
struct Words {
    first: Vec<&'static str>,
    second: Vec<&'static str>,
    tlds: Vec<&'static str>,
}

static WORDS: LazyLock<Words> = LazyLock::new(|| Words {
    first: FIRST_WORDS.split_ascii_whitespace().collect(),
    second: SECOND_WORDS.split_ascii_whitespace().collect(),
    tlds: TLDS.split_ascii_whitespace().collect(),
});

fn build_v2(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    let family = "nymaim/v2";
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: family.into(),
            reason: "this variant takes a seed string (--seed), not a configuration".into(),
        });
    }
    let seed = spec.seed.ok_or_else(|| Error::NeedsSeed(family.into()))?;
    let bad = |reason: String| Error::BadSeed {
        family: family.into(),
        seed: seed.chars().take(80).collect(),
        reason,
    };
    if seed.is_empty() || seed.len() > V2_MAX_SEED {
        return Err(bad(format!(
            "expected 1 to {V2_MAX_SEED} characters, got {}",
            seed.len()
        )));
    }
    if !seed.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "expected printable ASCII (no spaces or control characters)".into(),
        ));
    }
    Ok(Box::new(NymaimV2 {
        seed: seed.to_string(),
        seed_hex: hex32(&Md5::digest(seed.as_bytes()).into()),
        words: &WORDS,
        recent: Mutex::new(VecDeque::with_capacity(V2_CACHED_BLOCKS)),
    }))
}

/// Lowercase hex of a 16-byte digest.
fn hex32(digest: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// Nymaim v2 with its seed.
struct NymaimV2 {
    seed: String,
    /// MD5 of the seed, in hex: the start of every day's string.
    seed_hex: [u8; 32],
    words: &'static Words,
    /// The blocks of the last few days generated, by (year mod 100, day
    /// of the year from 0).
    recent: Mutex<VecDeque<Cache>>,
}

/// A cached block of v2 names and its key.
type Cache = ((i32, i32), Arc<[String]>);

/// The v2 MD5 chain: a draw reads the first 8 hex digits of the current
/// digest, then the chain moves on to the MD5 of that digest's hex digits
/// 7 to 31.
struct V2Chain {
    digest: [u8; 16],
}

impl V2Chain {
    fn draw(&mut self) -> u32 {
        let v = u32::from_be_bytes([
            self.digest[0],
            self.digest[1],
            self.digest[2],
            self.digest[3],
        ]);
        let hex = hex32(&self.digest);
        self.digest = Md5::digest(&hex[7..]).into();
        v
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.draw() as usize % list.len()]
    }
}

impl NymaimV2 {
    /// The 64 names of one day of the window: `day` is the day of the
    /// year counted from 0 (negative in early January: the sample formats
    /// it with a minus sign rather than going back to the previous year).
    fn block(&self, year: i32, day: i32) -> Arc<[String]> {
        let w = self.words;
        let mut text = Vec::with_capacity(48);
        text.extend_from_slice(&self.seed_hex);
        text.extend_from_slice(format!("{year}{day}").as_bytes());
        let mut chain = V2Chain {
            digest: Md5::digest(&text).into(),
        };
        let mut names = Vec::with_capacity(V2_PER_DAY);
        for _ in 0..V2_PER_DAY {
            let first = chain.pick(&w.first);
            let sep = V2_SEPARATORS[chain.draw() as usize % V2_SEPARATORS.len()];
            let second = chain.pick(&w.second);
            let tld = chain.pick(&w.tlds);
            let mut name =
                String::with_capacity(first.len() + sep.len() + second.len() + 1 + tld.len());
            name.push_str(first);
            name.push_str(sep);
            name.push_str(second);
            name.push('.');
            name.push_str(tld);
            names.push(name);
        }
        names.into()
    }
}

impl Dga for NymaimV2 {
    fn family(&self) -> &'static str {
        "nymaim"
    }
    fn variant(&self) -> &'static str {
        "v2"
    }
    fn seed(&self) -> String {
        self.seed.clone()
    }
    fn period(&self, date: Date) -> Option<i64> {
        // Only the year's last two digits and the day of the year enter.
        Some(i64::from(date.year().rem_euclid(100)) * 1000 + i64::from(date.ordinal()))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        let year = date.year().rem_euclid(100);
        let yday = i32::from(date.ordinal()) - 1;
        out.reserve(V2_WINDOW as usize * V2_PER_DAY);
        for back in 0..V2_WINDOW {
            let key = (year, yday - back);
            // Walking a window day by day, 10 of the 11 blocks were made
            // for the day before: reuse them (each costs 257 MD5s). The
            // lock is not held while a block is computed.
            let cached = self
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, b)| Arc::clone(b));
            let block = match cached {
                Some(b) => b,
                None => {
                    let b = self.block(key.0, key.1);
                    let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
                    if recent.len() >= V2_CACHED_BLOCKS {
                        recent.pop_front();
                    }
                    recent.push_back((key, Arc::clone(&b)));
                    b
                }
            };
            out.extend_from_slice(&block);
        }
    }
}

// The v2 word lists, as the 2018 sample carries them (its words.json as
// published by J. Bader in baderj/domain_generation_algorithms,
// nymaim2/words.json, commit 09961a14): data the sample's DGA indexes, so
// their order and repetitions matter. Stored here as whitespace-separated
// words; the separators (`-` and none) are V2_SEPARATORS.

/// The first words (2450), in the sample's order.
const FIRST_WORDS: &str = "\
    reaches reaching reaction reactions read reader readers readily reading readings reads ready \
    real realistic reality realize realized really realm realtor realtors realty rear reason \
    reasonable reasonably reasoning reasons rebate rebates rebecca rebel rebound recall receipt \
    receive received receiver receivers receives receiving recent recently reception receptor \
    receptors recipe recipes recipient recipients recognised recognition recognize recognized \
    recommend recommendation recommendations recommended recommends reconstruction record recorded \
    recorder recorders recording recordings records recover recovered recovery recreation \
    recreational recruiting recruitment recycling redeem redhead reduce reduced reduces reducing \
    reduction reductions reed reef reel refer reference referenced references referral referrals \
    referred referring refers refinance refine refined reflect reflected reflection reflections \
    reflects reform reforms refresh refrigerator refugees refund refurbished refuse refused regard \
    regarded regarding regardless regards reggae regime region regional regions register registered \
    registrar registration registry regression regular regularly regulated regulation regulations \
    regulatory rehab rehabilitation reid reject rejected relate related relates relating relation \
    relations relationship relationships relative relatively relatives relax relaxation relay \
    release released releases relevance relevant reliability reliable reliance relief religion \
    religions religious reload relocation rely relying remain remainder remained remaining remains \
    remark remarkable remarks remedies remedy remember remembered remind reminder remix remote \
    removable removal remove removed removing renaissance render rendered rendering renew renewable \
    renewal reno rent rental rentals repair repairs repeat repeated replace replaced replacement \
    replacing replica replication replied replies reply report reported reporter reporters reporting \
    reports repository represent representation representations representative representatives \
    represented representing represents reprint reprints reproduce reproduced reproduction \
    reproductive republic republican republicans reputation request requested requesting requests \
    require required requirement requirements requires requiring rescue research researcher \
    researchers reseller reservation reservations reserve reserved reserves reservoir reset \
    residence resident residential residents resist resistance resistant resolution resolutions \
    resolve resolved resort resorts resource resources respect respected respective respectively \
    respiratory respond responded respondent respondents responding response responses \
    responsibilities responsibility responsible rest restaurant restaurants restoration restore \
    restored restrict restricted restriction restrictions restructuring result resulted resulting \
    results resume resumes retail retailer retailers retain retained retention retired retirement \
    retreat retrieval retrieve retrieved retro return returned returning returns reunion reuters \
    reveal revealed reveals revelation revenge revenue revenues reverse review reviewed reviewer \
    reviewing reviews revised revision revisions revolution revolutionary reward rewards reynolds \
    rhode rhythm ribbon rica rice rich richard richards richardson richmond rick ricky rico ride \
    rider riders rides ridge riding right rights ring rings ringtone ringtones ripe rise rising risk \
    risks river rivers riverside road roads robbie robert roberts robertson robin robinson robot \
    robots robust rochester rock rocket rocks rocky roger rogers roland role roles roll rolled \
    roller rolling rolls roman romance romania romantic rome ronald roof room roommate roommates \
    rooms root roots rope rosa rose roses ross roster rotary rotation rouge rough roughly roulette \
    round rounds route router routers routes routine routines routing rover rows royal royalty \
    rubber ruby rugby rugs rule ruled rules ruling runner running runs runtime rural rush russell \
    russia russian ruth rwanda ryan sacramento sacred sacrifice saddam safari safe safely safer \
    safety sage sagem said sail sailing saint saints sake salad salaries salary sale salem sales \
    sally salmon salon salt salvador salvation samba same samoa sample samples sampling samsung \
    samuel sand sandra sandwich sandy sans santa sanyo sapphire sara sarah saskatchewan satellite \
    satin satisfaction satisfactory satisfied satisfy saturday saturn sauce saudi savage savannah \
    save saved saver saves saving savings saying says sbjct scale scales scan scanned scanner \
    scanners scanning scared scary scenario scenarios scene scenes scenic schedule scheduled \
    schedules scheduling schema scheme schemes scholar scholars scholarship scholarships school \
    schools science sciences scientific scientist scientists scoop scope score scored scores scoring \
    scotia scotland scott scottish scout scratch screen screening screens screensaver screensavers \
    screenshot screenshots screw script scripting scripts scroll scsi scuba sculpture seafood seal \
    sealed sean search searched searches searching seas season seasonal seasons seat seating seats \
    seattle second secondary seconds secret secretariat secretary secrets section sections sector \
    sectors secure secured securely securities security seed seeds seeing seek seeker seekers \
    seeking seeks seem seemed seems seen sees sega segment segments select selected selecting \
    selection selections selective self sell seller sellers selling sells semester semi \
    semiconductor seminar seminars senate senator senators send sender sending sends senegal senior \
    seniors sense sensitive sensitivity sensor sensors sent sentence sentences separate separated \
    separately separation sept september sequence sequences serbia serial series serious seriously \
    serum serve served server servers serves service services serving session sessions sets setting \
    settings settle settled settlement setup seven seventh several severe sewing sexcam sexo sexual \
    sexuality sexually sexy shade shades shadow shadows shaft shake shakespeare shakira shall shame \
    shanghai shannon shape shaped shapes share shared shareholders shares shareware sharing shark \
    sharon sharp shaved shaw shed sheep sheer sheet sheets sheffield shelf shell shelter shemale \
    shemales shepherd sheriff sherman shield shift shine ship shipment shipments shipped shipping \
    ships shirt shirts shit shock shoe shoes shoot shooting shop shopper shoppers shopping shops \
    shopzilla shore short shortcuts shorter shortly shorts shot shots should shoulder show showcase \
    showed shower showers showing shown shows showtimes shut shuttle sick side sides siemens sierra \
    sight sigma sign signal signals signature signatures signed significance significant \
    significantly signing signs signup silence silent silicon silk silly silver similar similarly \
    simon simple simplified simply simpson simpsons sims simulation simulations simultaneously since \
    sing singapore singer singh singing single singles sink sister sisters site sitemap sites \
    sitting situated situation situations sixth size sized sizes skating skiing skill skilled skills \
    skin skins skip skirt skirts skype slave sleep sleeping sleeps sleeve slide slides slideshow \
    slight slightly slim slip slope slot slots slovak slovakia slovenia slow slowly slut sluts small \
    smaller smallest smart smell smile smilies smith smithsonian smoke smoking smooth smtp snake \
    snap snapshot snow snowboard soap soccer social societies society sociology socket socks sodium \
    sofa soft softball software soil solar solaris sold soldier soldiers sole solely solid solo \
    solomon solution solutions solve solved solving soma somalia some somebody somehow someone \
    somerset something sometimes somewhat somewhere song songs sonic sons sony soon soonest \
    sophisticated sorry sort sorted sorts sought soul souls sound sounds soundtrack soup source \
    sources south southampton southeast southern southwest soviet space spaces spain spam span \
    spanish spank spanking sparc spare spas spatial speak speaker speakers speaking speaks spears \
    spec special specialist specialists specialized specializing specially specials specialties \
    specialty species specific specifically specification specifications specifics specified \
    specifies specify specs spectacular spectrum speech speeches speed speeds spell spelling spencer \
    spend spending spent sperm sphere spice spider spies spin spine spirit spirits spiritual \
    spirituality split spoke spoken spokesman sponsor sponsored sponsors sponsorship sport sporting \
    sports spot spotlight spots spouse spray spread spreading spring springer springfield springs \
    sprint spyware squad square squirt squirting stability stable stack stadium staff staffing stage \
    stages stainless stake stakeholders stamp stamps stan stand standard standards standing \
    standings stands stanford stanley star starring stars starsmerchant start started starter \
    starting starts startup stat state stated statement statements states statewide static stating \
    station stationery stations statistical statistics stats status statute statutes statutory stay \
    stayed staying stays steady steal steam steel steering stem step stephanie stephen steps stereo \
    sterling steve steven stevens stewart stick sticker stickers sticks sticky still stock stockholm \
    stockings stocks stolen stomach stone stones stood stop stopped stopping stops storage store \
    stored stores stories storm story straight strain strand strange stranger strap strategic \
    strategies strategy stream streaming streams street streets strength strengthen strengthening \
    strengths stress stretch strict strictly strike strikes striking string strings strip stripes \
    strips stroke strong stronger strongly struck struct structural structure structured structures \
    struggle stuart stuck stud student students studied studies studio studios study studying stuff \
    stuffed stunning stupid style styles stylish stylus subaru subcommittee subdivision subject \
    subjective subjects sublime sublimedirectory submission submissions submit submitted submitting \
    subscribe subscriber subscribers subscription subscriptions subsection subsequent subsequently \
    subsidiaries subsidiary substance substances substantial substantially substitute subtle \
    suburban succeed success successful successfully such suck sucking sucks sudan sudden suddenly \
    suffer suffered suffering sufficient sufficiently sugar suggest suggested suggesting suggestion \
    suggestions suggests suicide suit suitable suite suited suites suits sullivan summaries summary \
    summer summit sunday sunglasses sunny sunrise sunset sunshine super superb superintendent \
    superior supervision supervisor supervisors supplement supplemental supplements supplied \
    supplier suppliers supplies supply support supported supporters supporting supports suppose \
    supposed supreme sure surely surf surface surfaces surfing surge surgeon surgeons surgery \
    surgical surname surplus surprise surprised surprising surrey surround surrounded surrounding \
    surveillance survey surveys survival survive survivor survivors susan suse suspect suspected \
    suspended suspension sussex sustainability sustainable sustained suzuki swap swaziland sweden \
    swedish sweet swift swim swimming swing swingers swiss switch switched switches switching \
    switzerland sword sydney symantec symbol symbols sympathy symphony symposium symptoms sync \
    syndicate syndication syndrome synopsis syntax synthesis synthetic syracuse syria system \
    systematic systems table tables tablet tablets tabs tackle tactics tagged tags tahoe tail taiwan \
    take taken takes taking tale talent talented tales talk talked talking talks tall tamil tampa \
    tank tanks tanzania tape tapes target targeted targets tariff task tasks taste tattoo taught \
    taxation taxes taxi taylor teach teacher teachers teaches teaching team teams tear tears tech \
    technical technician technique techniques techno technological technologies technology \
    techrepublic teddy teen teenage teens teeth telecharger telecom telecommunications telephone \
    telephony telescope television televisions tell telling tells temp temperature temperatures \
    template templates temple temporal temporarily temporary tenant tend tender tennessee tennis \
    tension tent term terminal terminals termination terminology terms terrace terrain terrible \
    territories territory terror terrorism terrorist terrorists terry test testament tested \
    testimonials testimony testing tests texas text textbook textbooks textile textiles texts \
    texture thai thailand than thank thanks thanksgiving that thats theater theaters theatre thee \
    theft thehun their them theme themes themselves then theology theorem theoretical theories \
    theory therapeutic therapist therapy there thereafter thereby therefore thereof thermal \
    thesaurus these thesis theta they thick thickness thin thing things think thinking thinkpad \
    thinks third thirty this thomas thompson thomson thong thongs thorough thoroughly those thou \
    though thought thoughts thousand thousands thread threaded threads threat threatened threatening \
    threats three threesome threshold thriller throat through throughout throw throwing thrown \
    throws thru thumb thumbnail thumbnails thumbs thumbzilla thunder thursday thus ticket tickets \
    tide tied tier ties tiffany tiger tigers tight tile tiles till timber time timeline timely timer \
    times timing timothy tiny tion tions tips tire tired tires tissue titanium titans title titled \
    titles tits titten tobacco tobago today todd toddler together toilet token tokyo told tolerance \
    toll tomato tomatoes tommy tomorrow tone toner tones tongue tonight tons tony took tool toolbar \
    toolbox toolkit tools tooth topic topics topless tops toronto torture toshiba total totally \
    totals touch touched tough tour touring tourism tourist tournament tournaments tours toward \
    towards tower towers town towns township toxic toyota toys trace track trackback trackbacks \
    tracked tracker tracking tracks tract tractor tracy trade trademark trademarks trader trades \
    trading tradition traditional traditions traffic tragedy trail trailer trailers trails train \
    trained trainer trainers training trains tramadol trance tranny trans transaction transactions \
    transcript transcription transcripts transexual transexuales transfer transferred transfers \
    transform transformation transit transition translate translated translation translations \
    translator transmission transmit transmitted transparency transparent transport transportation \
    transsexual trap trash trauma travel traveler travelers traveling traveller travelling travels \
    travesti travis tray treasure treasurer treasures treasury treat treated treating treatment \
    treatments treaty tree trees trek trembl tremendous trend trends treo trial trials triangle \
    tribal tribe tribes tribunal tribune tribute trick tricks tried tries trigger trim trinidad \
    trinity trio trip tripadvisor triple trips triumph trivia troops tropical trouble \
    troubleshooting trout troy truck trucks true truly trunk trust trusted trustee trustees trusts \
    truth trying tsunami tube tubes tucson tuesday tuition tulsa tumor tune tuner tunes tuning \
    tunisia tunnel turbo turkey turkish turn turned turner turning turns turtle tutorial tutorials \
    twelve twenty twice twiki twin twinks twins twist twisted tyler type types typical typically \
    typing uganda ugly ukraine ultimate ultimately ultra ultram unable unauthorized unavailable \
    uncertainty uncle undefined under undergraduate underground underlying understand understanding \
    understood undertake undertaken underwear undo unemployment unexpected unfortunately unified \
    uniform union unions uniprotkb unique unit united units unity univ universal universe \
    universities university unix unknown unless unlike unlikely unlimited unlock unnecessary \
    unsigned unsubscribe until untitled unto unusual unwrap upcoming update updated updates updating \
    upgrade upgrades upgrading upload uploaded upon upper upset upskirt upskirts urban urge urgent \
    urls uruguay usage usda used useful user username users uses usgs using usps usual usually utah \
    utilities utility utilization utilize utils uzbekistan vacancies vacation vacations vaccine \
    vacuum vagina valentine valid validation validity valium valley valuable valuation value valued \
    values valve valves vampire vancouver vanilla variable variables variance variation variations \
    varied varies varieties variety various vary varying vast vatican vault vbulletin vector vegas \
    vegetable vegetables vegetarian vegetation vehicle vehicles velocity velvet vendor vendors \
    venezuela venice venture ventures venue venues verbal verde verification verified verify verizon \
    vermont vernon verse version versions versus vertex vertical very verzeichnis vessel vessels \
    veteran veterans veterinary viagra vibrator vibrators vice victim victims victor victoria \
    victorian victory video videos vids vienna vietnam vietnamese view viewed viewer viewers viewing \
    viewpicture views viii viking villa village villages villas vincent vintage vinyl violation \
    violations violence violent violin viral virgin virginia virtual virtually virtue virus viruses \
    visa visibility visible vision visit visited visiting visitor visitors visits vista visual vital \
    vitamin vitamins vocabulary vocal vocals vocational voice voices void voip volkswagen volleyball \
    volt voltage volume volumes voluntary volunteer volunteers volvo vote voted voters votes voting \
    voyeur voyeurweb voyuer vsnet vulnerability vulnerable wage wages wagner wagon wait waiting \
    waiver wake wales walk walked walker walking walks wall wallace wallet wallpaper wallpapers \
    walls walnut walt walter wang wanna want wanted wanting wants warcraft ward ware warehouse warm \
    warming warned warner warning warnings warrant warranties warranty warren warrior warriors wars \
    wash washer washing washington waste watch watched watches watching water waterproof waters \
    watershed watson watt watts wave waves wayne ways weak wealth weapon weapons wear wearing \
    weather webcam webcams webcast weblog weblogs webmaster webmasters webpage webshots website \
    websites webster wedding weddings wednesday weed week weekend weekends weekly weeks weight \
    weighted weights weird welcome welding welfare well wellington wellness wells welsh wendy went \
    were wesley west western westminster whale what whatever whats wheat wheel wheels when whenever \
    where whereas wherever whether which while whilst white whole wholesale whom whore whose wichita \
    wicked wide widely wider widescreen widespread width wife wifi wiki wikipedia wild wilderness \
    wildlife wiley will william williams willing willow wilson wind window windows winds windsor \
    wine wines wing wings winner winners winning wins winston winter wire wired wireless wires \
    wiring wisconsin wisdom wise wish wishes wishing wishlist witch with withdrawal within without \
    witness witnesses wives wizard wolf woman women womens wonder wonderful wondering wood wooden \
    woods wool worcester word wordpress words work worked worker workers workflow workforce working \
    workout workplace works workshop workshops workstation world worldcat worlds worldsex worldwide \
    worm worn worried worry worse worship worst worth worthy would wound wrap wrapped wrapping \
    wrestling wright wrist write writer writers writes writing writings written wrong wrote wyoming \
    xanax xbox xerox xhtml xnxx yacht yahoo yale yamaha yang yard yards yarn yeah year yearly years \
    yeast yellow yemen yesterday yield yields yoga york yorkshire young younger your yours yourself \
    youth yugoslavia yukon zambia zdnet zealand zero zimbabwe zinc zoloft zone zones zoning zoom \
    zoophilia zope zshops \
";

/// The second words (4387), in the sample's order.
const SECOND_WORDS: &str = "\
    contamination contemporary content contents contest contests context continent continental \
    continually continue continued continues continuing continuity continuous continuously contract \
    contracting contractor contractors contracts contrary contrast contribute contributed \
    contributing contribution contributions contributor contributors control controlled controller \
    controllers controlling controls controversial controversy convenience convenient convention \
    conventional conventions convergence conversation conversations conversion convert converted \
    converter convertible convicted conviction convinced cook cookbook cooked cookie cookies cooking \
    cool cooler cooling cooper cooperation cooperative coordinate coordinated coordinates \
    coordination coordinator cope copied copies copper copy copying copyright copyrighted copyrights \
    coral cord cordless core cork corn cornell corner corners cornwall corp corporate corporation \
    corporations corps corpus correct corrected correction corrections correctly correlation \
    correspondence corresponding corruption cosmetic cosmetics cost costa costs costume costumes \
    cottage cottages cotton could council councils counsel counseling count counted counter counters \
    counties counting countries country counts county couple coupled couples coupon coupons courage \
    courier course courses court courtesy courts cove cover coverage covered covering covers cowboy \
    crack cradle craft crafts craig crap craps crash crawford crazy cream create created creates \
    creating creation creations creative creativity creator creature creatures credit credits creek \
    crest crew cricket crime crimes criminal crisis criteria criterion critical criticism critics \
    croatia crop crops cross crossing crossword crowd crown crucial crude cruise cruises cruz \
    crystal ctrl cuba cube cubic cuisine cult cultural culture cultures cumshot cumshots cumulative \
    cunt cups cure curious currencies currency current currently curriculum cursor curtis curve \
    curves custody custom customer customers customise customize customized customs cute cuts \
    cutting cyber cycle cycles cycling cylinder cyprus czech daddy daily dairy daisy dakota dale \
    dallas damage damaged damages dame damn dana dance dancing danger dangerous daniel danish danny \
    dans dare dark darkness darwin dash data database databases date dated dates dating daughter \
    daughters dave david davidson davis dawn days dayton dead deadline deadly deaf deal dealer \
    dealers dealing deals dealt dealtime dean dear death deaths debate debian deborah debt debug \
    debut decade decades december decent decide decided decimal decision decisions deck declaration \
    declare declared decline declined decor decorating decorative decrease decreased dedicated \
    deemed deep deeper deeply deer default defeat defects defence defend defendant defense defensive \
    deferred deficit define defined defines defining definitely definition definitions degree \
    degrees delaware delay delayed delays delegation delete deleted delhi delicious delight deliver \
    delivered delivering delivers delivery dell delta deluxe demand demanding demands demo democracy \
    democrat democratic democrats demographic demonstrate demonstrated demonstrates demonstration \
    denial denied denmark dennis dense density dental dentists denver deny department departmental \
    departments departure depend dependence dependent depending depends deployment deposit deposits \
    depot depression dept depth deputy derby derek derived descending describe described describes \
    describing description descriptions desert deserve design designated designation designed \
    designer designers designing designs desirable desire desired desk desktop desktops desperate \
    despite destination destinations destiny destroy destroyed destruction detail detailed details \
    detect detected detection detective detector determination determine determined determines \
    determining detroit deutsch deutsche deutschland devel develop developed developer developers \
    developing development developmental developments develops deviant deviation device devices \
    devil devon devoted diabetes diagnosis diagnostic diagram dial dialog dialogue diameter diamond \
    diamonds diana diane diary dice dick dicke dicks dictionaries dictionary died diego dies diesel \
    diet dietary diff differ difference differences different differential differently difficult \
    difficulties difficulty diffs digest digit digital dildo dildos dimension dimensional dimensions \
    dining dinner diploma direct directed direction directions directive directly director \
    directories directors directory dirt dirty disabilities disability disable disabled disagree \
    disappointed disaster disc discharge disciplinary discipline disciplines disclaimer disclaimers \
    disclose disclosure disco discount discounted discounts discover discovered discovery discrete \
    discretion discrimination discs discuss discussed discusses discussing discussion discussions \
    disease diseases dish dishes disk disks disney disorder disorders dispatch dispatched display \
    displayed displaying displays disposal disposition dispute disputes dist distance distances \
    distant distinct distinction distinguished distribute distributed distribution distributions \
    distributor distributors district districts disturbed dive diverse diversity divide divided \
    dividend divine diving division divisions divorce divx dock docs doctor doctors doctrine \
    document documentary documentation documented documents dodge does dogs doing doll dollar \
    dollars dolls domain domains dome domestic dominant dominican donald donate donated donation \
    donations done donna donor donors dont doom door doors dosage dose double doubt doug douglas \
    dover down download downloadable downloaded downloading downloads downtown dozen dozens draft \
    drag dragon drain drainage drama dramatic dramatically draw drawing drawings drawn draws dream \
    dreams dress dressed dresses dressing drew dried drill drilling drink drinking drinks drive \
    driven driver drivers drives driving drop dropped drops drove drug drugs drum drums drunk dryer \
    dual dubai dublin duck dude duke dumb dump duncan duplicate durable duration durham during dust \
    dutch duties duty dvds dying dylan dynamic dynamics each eagle eagles earl earlier earliest \
    early earn earned earning earnings earrings ears earth earthquake ease easier easily east easter \
    eastern easy eating ebay ebony ebook ebooks echo eclipse ecological ecology ecommerce economic \
    economics economies economy ecuador eddie eden edgar edge edges edinburgh edit edited editing \
    edition editions editor editorial editorials editors edmonton educated education educational \
    educators edward edwards effect effective effectively effectiveness effects efficiency efficient \
    efficiently effort efforts eggs egypt egyptian eight either ejaculation elder elderly elect \
    elected election elections electoral electric electrical electricity electro electron electronic \
    electronics elegant element elementary elements elephant elevation eleven eligibility eligible \
    eliminate elimination elite elizabeth ellen elliott ellis else elsewhere elvis emacs email \
    emails embassy embedded emerald emergency emerging emily eminem emirates emission emissions emma \
    emotional emotions emperor emphasis empire empirical employ employed employee employees employer \
    employers employment empty enable enabled enables enabling enclosed enclosure encoding encounter \
    encountered encourage encouraged encourages encouraging encryption encyclopedia endangered ended \
    endif ending endless endorsed endorsement ends enemies enemy energy enforcement engage engaged \
    engagement engaging engine engineer engineering engineers engines england english enhance \
    enhanced enhancement enhancements enhancing enjoy enjoyed enjoying enlarge enlargement enormous \
    enough enquiries enquiry enrolled enrollment ensemble ensure ensures ensuring enter entered \
    entering enterprise enterprises enters entertaining entertainment entire entirely entities \
    entitled entity entrance entrepreneur entrepreneurs entries entry envelope environment \
    environmental environments enzyme epic epinions episode episodes epson equal equality equally \
    equation equations equilibrium equipment equipped equity equivalent eric ericsson erik erotic \
    erotica error errors escape escort escorts especially espn essay essays essence essential \
    essentially essentials essex establish established establishing establishment estate estates \
    estimate estimated estimates estimation estonia eternal ethernet ethical ethics ethiopia ethnic \
    eugene euro europe european euros eval evaluate evaluated evaluating evaluation evaluations \
    evanescence evans even evening event events eventually ever every everybody everyday everyone \
    everything everywhere evidence evident evil evolution exact exactly exam examination \
    examinations examine examined examines examining example examples exams exceed excel excellence \
    excellent except exception exceptional exceptions excerpt excess excessive exchange exchanges \
    excited excitement exciting exclude excluded excluding exclusion exclusive exclusively excuse \
    exec execute executed execution executive executives exempt exemption exercise exercises exhaust \
    exhibit exhibition exhibitions exhibits exist existed existence existing exists exit exotic \
    expand expanded expanding expansion expansys expect expectations expected expects expedia \
    expenditure expenditures expense expenses expensive experience experienced experiences \
    experiencing experiment experimental experiments expert expertise experts expiration expired \
    expires explain explained explaining explains explanation explicit explicitly exploration \
    explore explorer exploring explosion expo export exports exposed exposure express expressed \
    expression expressions extend extended extending extends extension extensions extensive extent \
    exterior external extra extract extraction extraordinary extras extreme extremely eyed eyes \
    fabric fabrics fabulous face faced faces facial facilitate facilities facility facing fact \
    factor factors factory facts faculty fail failed failing fails failure failures fair fairfield \
    fairly fairy faith fake fall fallen falling falls false fame familiar families family famous \
    fancy fans fantastic fantasy faqs fare fares farm farmer farmers farming farms fascinating \
    fashion fast faster fastest fatal fate father fathers fatty fault favor favorite favorites \
    favors favour favourite favourites fear fears feat feature featured features featuring february \
    federal federation feed feedback feeding feeds feel feeling feelings feels fees feet fell fellow \
    fellowship felt female females fence feof ferrari ferry festival festivals fetish fever fewer \
    fiber fibre fiction field fields fifteen fifth fifty fight fighter fighters fighting figure \
    figured figures fiji file filed filename files filing fill filled filling film filme films \
    filter filtering filters final finally finals finance finances financial financing find \
    findarticles finder finding findings findlaw finds fine finest finger fingering fingers finish \
    finished finishing finite finland finnish fioricet fire fired firefox fireplace fires firewall \
    firewire firm firms firmware first fiscal fish fisher fisheries fishing fist fisting fitness \
    fits fitted fitting five fixed fixes fixtures flag flags flame flash flashers flashing flat \
    flavor fleece fleet flesh flex flexibility flexible flickr flight flights flip float floating \
    flood floor flooring floors floppy floral florence florida florist florists flour flow flower \
    flowers flows floyd fluid flush flux flyer flying foam focal focus focused focuses focusing fold \
    folder folders folding folk folks follow followed following follows font fonts food foods fool \
    foot footage football footwear forbes forbidden force forced forces ford forecast forecasts \
    foreign forest forestry forests forever forge forget forgot forgotten fork form formal format \
    formation formats formatting formed former formerly forming forms formula fort forth fortune \
    forty forum forums forward forwarding fossil foster foto fotos fought foul found foundation \
    foundations founded founder fountain four fourth fraction fragrance fragrances frame framed \
    frames framework framing france franchise francis francisco frank frankfurt franklin fraser \
    fraud fred frederick free freebsd freedom freelance freely freeware freeze freight french \
    frequencies frequency frequent frequently fresh friday fridge friend friendly friends friendship \
    frog from front frontier frontpage frost frozen fruit fruits fuck fucked fucking fuel fuji \
    fujitsu full fully function functional functionality functioning functions fund fundamental \
    fundamentals funded funding fundraising funds funeral funk funky funny furnished furnishings \
    furniture further furthermore fusion future futures fuzzy gabriel gadgets gage gain gained gains \
    galaxy gale galleries gallery gambling game gamecube games gamespot gaming gamma gang gangbang \
    gaps garage garbage garcia garden gardening gardens garlic garmin gary gasoline gate gates \
    gateway gather gathered gathering gauge gave gays gazette gear geek gender gene genealogy \
    general generally generate generated generates generating generation generations generator \
    generators generic generous genes genesis genetic genetics geneva genius genome genre genres \
    gentle gentleman gently genuine geographic geographical geography geological geology geometry \
    george georgia gerald german germany gets getting ghana ghost giant giants gibraltar gibson gift \
    gifts gilbert girl girlfriend girls give given gives giving glad glance glasgow glass glasses \
    glen glenn global globe glory glossary gloves glow glucose gmbh gnome goal goals goat gods goes \
    going gold golden golf gone gonna good goods google gordon gore gorgeous gospel gossip gothic \
    goto gotta gotten gourmet governance governing government governmental governments governor grab \
    grace grad grade grades gradually graduate graduated graduates graduation graham grain grammar \
    grams grand grande granny grant granted grants graph graphic graphical graphics graphs gras \
    grass grateful gratis gratuit grave gravity gray great greater greatest greatly greece greek \
    green greene greenhouse greensboro greeting greetings greg gregory grenada grew grey grid \
    griffin grill grip grocery groove gross ground grounds groundwater group groups grove grow \
    growing grown grows growth guam guarantee guaranteed guarantees guard guardian guards guatemala \
    guess guest guestbook guests guidance guide guided guidelines guides guild guilty guinea guitar \
    guitars gulf guns guru guyana guys gzip habitat habits hack hacker hair hairy haiti half halifax \
    hall halloween halo hamburg hamilton hammer hampshire hampton hand handbags handbook handed \
    handheld handhelds handjob handjobs handle handled handles handling handmade hands handy hang \
    hanging hans hansen happen happened happening happens happiness happy harassment harbor harbour \
    hard hardcore hardcover harder hardly hardware hardwood harley harm harmful harmony harold \
    harper harris harrison harry hart hartford harvard harvest harvey hash hate hats have haven \
    having hawaii hawaiian hawk hayes hazard hazardous hazards hdtv head headed header headers \
    heading headline headlines headphones headquarters heads headset healing health healthcare \
    healthy hear heard hearing hearings heart hearts heat heated heater heath heather heating heaven \
    heavily heavy hebrew heel height heights held helen helena helicopter hell hello helmet help \
    helped helpful helping helps hence henderson henry hentai hepatitis herald herb herbal herbs \
    here hereby herein heritage hero heroes herself hewlett hidden hide hierarchy high higher \
    highest highland highlight highlighted highlights highly highs highway highways hiking hill \
    hills hilton himself hindu hint hints hire hired hiring hispanic hist historic historical \
    history hitachi hits hitting hobbies hobby hockey hold holdem holder holders holding holdings \
    holds hole holes holiday holidays holland hollow holly hollywood holmes holocaust holy home \
    homeland homeless homepage homes hometown homework honda honduras honest honey hong honolulu \
    honor honors hood hook hope hoped hopefully hopes hoping hopkins horizon horizontal hormone horn \
    horny horrible horror horse horses hose hospital hospitality hospitals host hosted hostel \
    hostels hosting hosts hotel hotels hotmail hottest hour hourly hours house household households \
    houses housewares housewives housing houston howard however howto href html http hudson huge \
    hugh hughes hugo hull human humanitarian humanities humanity humans humidity humor hundred \
    hundreds hung hungarian hungary hunger hungry hunt hunter hunting huntington hurricane hurt \
    husband hybrid hydraulic hydrocodone hydrogen hygiene hypothesis hypothetical hyundai iceland \
    icon icons idaho idea ideal ideas identical identification identified identifier identifies \
    identify identifying identity idle idol ieee ignore ignored illegal illinois illness illustrated \
    illustration illustrations image images imagination imagine imaging immediate immediately \
    immigrants immigration immune immunology impact impacts impaired imperial implement \
    implementation implemented implementing implications implied implies import importance important \
    importantly imported imports impose imposed impossible impressed impression impressive improve \
    improved improvement improvements improving inappropriate inbox incentive incentives incest inch \
    inches incidence incident incidents incl include included includes including inclusion inclusive \
    income incoming incomplete incorporate incorporated incorrect increase increased increases \
    increasing increasingly incredible incurred indeed independence independent independently index \
    indexed indexes india indian indiana indianapolis indians indicate indicated indicates \
    indicating indication indicator indicators indices indie indigenous indirect individual \
    individually individuals indonesia indonesian indoor induced induction industrial industries \
    industry inexpensive infant infants infected infection infections infectious infinite inflation \
    influence influenced influences info inform informal information informational informative \
    informed infrared infrastructure infringement ingredients inherited initial initially initiated \
    initiative initiatives injection injured injuries injury inkjet inline inner innocent innovation \
    innovations innovative inns input inputs inquire inquiries inquiry insects insert inserted \
    insertion inside insider insight insights inspection inspections inspector inspiration inspired \
    install installation installations installed installing instance instances instant instantly \
    instead institute institutes institution institutional institutions instruction instructional \
    instructions instructor instructors instrument instrumental instrumentation instruments \
    insulation insulin insurance insured intake integer integral integrate integrated integrating \
    integration integrity intel intellectual intelligence intelligent intend intended intense \
    intensity intensive intent intention inter interact interaction interactions interactive \
    interest interested interesting interests interface interfaces interference interior \
    intermediate international internationally internship interpretation interracial intersection \
    interval intervals interventions interview intimate intl intranet intro introduced introduces \
    introduction introductory invasion invention invest investigate investigation investigations \
    investigators investing investments investor invisible invision invitations invite invoice \
    involve involvement involves iowa ipaq iran iraq ireland irish irrigation isaac islam islamic \
    islands isle isolation israel issn issue issues istanbul italian italiano italy item itself \
    itunes jack jacket jackie jackson jacob jade jail jake james jamie janet january japanese jason \
    javascript jazz jeans jeep jefferson jeffrey jennifer jenny jerry jersey jesse jessica jets \
    jewel jewelry jewish jill jimmy jobs joel johnny johns johnston join joining joins joke jokes \
    jones jordan joseph josh journal journalism journalists journals joyce jpeg judge judges \
    judicial judy julia julian july jump junction june junior junk jury just justify justin kansas \
    karaoke karl karma kathy katie kazakhstan keen keeping keeps kelkoo kelly kenneth kenny kent \
    kentucky kept kernel kevin keyboard keys keyword kick kidney kijiji kill killer killing \
    kilometers kinase kinda kinds kingdom kings kirk kiss kitchen kits klein knee knife knight knit \
    knitting knock know knowledge knowledgestorm knows kodak korea korean kurt kuwait label labeled \
    labor laboratories labour labs lack ladder ladies lady laid lake lamb lambda lamps lancaster \
    land landing landscape landscapes lanes lang languages lanka laptop laptops largely larger larry \
    laser lasting late later latest latin latina latino latitude latvia lauderdale laughing launch \
    launches laundry lauren lawn laws lawsuit lawyers layer layout lazy leader leaders leading leads \
    league lean learned learners lease leasing leather leave leaving lebanon lectures leeds legacy \
    legal legend legendary legislation legislative legitimate legs lemon lender lending length \
    lenses leon leone lesbian leslie less lesson lessons letter letters level levels levy lewis \
    lexmark lexus liability liable liberia liberty libraries library licence license licenses \
    licensing liechtenstein lies lifestyle lifetime light lightbox lighting lightning lightweight \
    like likelihood likely likewise lime limitation limitations limiting limits lincoln linda line \
    linear lines lingerie linked linking linux lion lips liquid list listed listening listing \
    listprice lists literacy literally literature lithuania little live lived liver lives livesex \
    living lloyd loaded loading loan loans local locale locate located locations locator locked \
    locking lodge lodging logged logging logical login logitech logo logs lolita lone lonely longer \
    longest look looked looks looksmart loop loops lopez lord losing loss lost lots lotus loud \
    louise louisiana lounge love lovely lover loves loving lowest lows lucia luck lucy luggage luke \
    lunch luther luxembourg lycos lying lyric lyrics machine machinery macintosh macro madagascar \
    made madness madonna magazine magazines magical magnet magnificent magnitude mail mailed mailman \
    mails main maine mainly mainstream maintained maintaining maintenance major make maker makes \
    makeup malawi malaysia male males mall malpractice mambo manage management manager managing \
    manchester mandatory manga manitoba manner manual manually manufacture manufactured \
    manufacturers manufacturing maple mapping marathon marble march marco mardi margaret maria \
    mariah marijuana marilyn marine mario maritime mark marker markers marketing marketplace markets \
    marking marks marriage married marriott mars marsh marshall mart martha martial martin marvel \
    mary maryland mask mason mass massachusetts massage massive master mastercard masters \
    masturbating masturbation match matched matches matching mate material materials maternity math \
    mathematical mathematics mating matrix mats matt matter matters matthew mattress mature maui \
    mauritius maximize maximum maybe mayor mazda mcdonald meal meals mean meaning meaningful means \
    meant meanwhile measure measured measurement measurements measures measuring meat mechanical \
    mechanics mechanism mechanisms medal media median mediawiki medicaid medical medicare medication \
    medications medicine medicines medieval meditation mediterranean medium medline meet meeting \
    meetings meets meetup mega melbourne melissa member members membership membrane memo memorabilia \
    memorial memories memory memphis mens ment mental mention mentioned mentor menu menus mercedes \
    merchandise merchant merchants mercury mercy mere merely merge merger merit merry mesa mesh mess \
    message messages messaging messenger meta metabolism metadata metal metallic metallica metals \
    meter meters method methodology methods metres metric metro metropolitan mexican mexico meyer \
    miami mice michael michel michelle michigan micro microphone microsoft microwave middle midi \
    midlands midnight midwest might mighty migration mike milan mild mile mileage miles milf \
    milfhunter milfs military milk mill millennium miller million millions mills milton milwaukee \
    mime mind minds mine mineral minerals mines mini miniature minimal minimize minimum mining \
    minister ministers ministries ministry minneapolis minnesota minolta minor minority mins mint \
    minus minute minutes miracle mirror mirrors misc miscellaneous miss missed missile missing \
    mission missions mississippi missouri mistake mistakes mistress mitchell mitsubishi mixed mixer \
    mixing mixture mobile mobiles mobility mode model modeling modelling models modem modems \
    moderate moderator moderators modern modes modification modifications modified modify mods \
    modular module modules moisture mold moldova molecular molecules moment moments momentum moms \
    monaco monday monetary money mongolia monica monitor monitored monitoring monitors monkey mono \
    monroe monster monsters montana monte montgomery month monthly months montreal mood moon moore \
    moral more moreover morgan morning morocco morris morrison mortality mortgage mortgages moscow \
    moses moss most mostly motel motels mother motherboard mothers motion motivated motivation motor \
    motorcycle motorcycles motorola motors mount mountain mountains mounted mounting mounts mouse \
    mouth move moved movement movements movers moves movie movies moving mozambique mozilla mpeg \
    mpegs mrna msgid msgstr msie much multi multimedia multiple mumbai munich municipal municipality \
    murder murphy murray muscle muscles museum museums music musical musician musicians muslim \
    muslims must mustang mutual muze myanmar myers myrtle myself mysimon myspace mysql mysterious \
    mystery myth nail nails naked name named namely names namespace namibia nancy nano naples \
    narrative narrow nasa nascar nasdaq nashville nasty nathan nation national nationally nations \
    nationwide native nato natural naturally naturals nature naughty naval navigate navigation \
    navigator navy ncaa near nearby nearest nearly nebraska necessarily necessary necessity neck \
    necklace need needed needle needs negative negotiation negotiations neighbor neighborhood \
    neighbors neil neither nelson neon nepal nerve nervous nest nested netherlands netscape network \
    networking networks neural neutral nevada never nevertheless newark newbie newcastle newer \
    newest newfoundland newly newman newport news newsletter newsletters newspaper newspapers newton \
    next nextel niagara nicaragua nice nicholas nick nickel nickname nicole niger nigeria night \
    nightlife nightmare nights nike nikon nine nintendo nipple nipples nirvana nissan nitrogen noble \
    nobody node nodes noise nokia nominated nomination nominations none nonprofit noon norfolk norm \
    normal normally norman north northeast northern northwest norton norway norwegian nose note \
    notebook notebooks noted notes nothing notice noticed notices notification notifications \
    notified notify notion notre nottingham nova novel novels novelty november nowhere ntsc nuclear \
    nude nudist nudity nuke null number numbers numeric numerical numerous nurse nursery nurses \
    nursing nutrition nutritional nuts nutten nvidia nylon oakland oaks oasis obesity obituaries \
    object objective objectives objects obligation obligations observation observations observe \
    observed observer obtain obtained obtaining obvious obviously occasion occasional occasionally \
    occasions occupation occupational occupations occupied occur occurred occurrence occurring \
    occurs ocean oclc october odds oecd offense offensive offer offered offering offerings offers \
    office officer officers offices official officially officials offline offset offshore often ohio \
    oils okay oklahoma older oldest olive oliver olympic olympics olympus omaha oman omega omissions \
    once ones ongoing onion online only ontario onto oops open opened opening openings opens opera \
    operate operated operates operating operation operational operations operator operators opinion \
    opinions opponent opponents opportunities opportunity opposed opposite opposition optical optics \
    optimal optimization optimize optimum option optional options oracle oral orange orbit orchestra \
    order ordered ordering orders ordinance ordinary oregon organ organic organisation organisations \
    organised organisms organization organizational organizations organize organized organizer \
    organizing orgasm orgy oriental orientation oriented origin original originally origins orlando \
    orleans oscar other others otherwise ottawa ought ours ourselves outcome outcomes outdoor \
    outdoors outer outlet outlets outline outlined outlook output outputs outreach outside \
    outsourcing outstanding oval oven over overall overcome overhead overnight overseas overview \
    owen owned owner owners ownership owns oxford oxide oxygen ozone pace pacific pack package \
    packages packaging packard packed packet packets packing packs pads page pages paid pain painful \
    paint paintball painted painting paintings pair pairs pakistan palace pale palestine palestinian \
    palm palmer pamela panama panasonic panel panels panic panties pants pantyhose paper paperback \
    paperbacks papers papua para parade paradise paragraph paragraphs paraguay parallel parameter \
    parameters parcel parent parental parenting parents paris parish park parker parking parks \
    parliament parliamentary part partial partially participant participants participate \
    participated participating participation particle particles particular particularly parties \
    partition partly partner partners partnership partnerships parts party paso pass passage passed \
    passenger passengers passes passing passion passive passport password passwords past pasta paste \
    pastor patch patches patent patents path pathology paths patient patients patio patricia patrick \
    patrol pattern patterns paul pavilion paxil payable payday paying payment payments paypal \
    payroll pays pdas peace peaceful peak pearl peas pediatric peeing peer peers penalties penalty \
    pencil pendant pending penetration penguin peninsula penis penn pennsylvania penny pens pension \
    pensions pentium people peoples pepper perceived percent percentage perception perfect perfectly \
    perform performance performances performed performer performing performs perfume perhaps period \
    periodic periodically periods peripheral peripherals perl permalink permanent permission \
    permissions permit permits permitted perry persian persistent person personal personality \
    personalized personally personals personnel persons perspective perspectives perth peru pest \
    pete peter petersburg peterson petite petition petroleum pets phantom pharmaceutical \
    pharmaceuticals pharmacies pharmacology pharmacy phase phases phenomenon phentermine phil \
    philadelphia philip philippines philips phillips philosophy phoenix phone phones photo \
    photograph photographer photographers photographic photographs photography photos photoshop \
    phpbb phrase phrases phys physical physically physician physicians physics physiology piano \
    pichunter pick picked picking picks pickup picnic pics picture pictures piece pieces pierce \
    pierre pike pill pillow pills pilot pine ping pink pins pioneer pipe pipeline pipes pirates piss \
    pissing pitch pittsburgh pixel pixels pizza place placed placement places placing plain plains \
    plaintiff plan plane planes planet planets planned planner planners planning plans plant plants \
    plasma plastic plastics plate plates platform platforms platinum play playback playboy played \
    player players playing playlist plays playstation plaza pleasant please pleased pleasure pledge \
    plenty plot plots plug plugin plugins plumbing plus plymouth pmid pocket pockets podcast \
    podcasts poem poems poet poetry point pointed pointer pointing points poison pokemon poker \
    poland polar pole police policies policy polish polished political politicians politics poll \
    polls pollution polo poly polyester polymer polyphonic pond pontiac pool pools poor pope popular \
    popularity population populations porcelain pork porn porno porsche port portable portal porter \
    portfolio portion portions portland portrait portraits ports portsmouth portugal portuguese pose \
    posing position positioning positions positive possess possession possibilities possibility \
    possible possibly post postage postal postcard postcards posted poster posters posting postings \
    postposted posts potato potatoes potential potentially potter pottery poultry pound pounds pour \
    poverty powder powell power powered powerful powerpoint powers powerseller practical practice \
    practices practitioner practitioners prague prairie praise pray prayer prayers preceding \
    precious precipitation precise precisely precision predict predicted prediction predictions \
    prefer preference preferences preferred prefers prefix pregnancy pregnant preliminary premier \
    premiere premises premium prep prepaid preparation prepare prepared preparing prerequisite \
    prescribed prescription presence present presentation presentations presented presenting \
    presently presents preservation preserve president presidential press pressed pressing pressure \
    preston pretty prev prevent preventing prevention preview previews previous previously price \
    priced prices pricing pride priest primarily primary prime prince princess princeton principal \
    principle principles print printable printed printer printers printing prints prior priorities \
    priority prison prisoner prisoners privacy private privilege privileges prix prize prizes \
    probability probably probe problem problems proc procedure procedures proceed proceeding \
    proceedings proceeds process processed processes processing processor processors procurement \
    produce produced producer producers produces producing product production productions productive \
    productivity products profession professional professionals professor profile profiles profit \
    profits program programme programmer programmers programmes programming programs progress \
    progressive prohibited project projected projection projector projectors projects prominent \
    promise promised promises promising promo promote promoted promotes promoting promotion \
    promotional promotions prompt promptly proof propecia proper properly properties property \
    prophet proportion proposal proposals propose proposed proposition proprietary pros prospect \
    prospective prospects prostate prostores prot protect protected protecting protection protective \
    protein proteins protest protocol protocols prototype proud proudly prove proved proven provide \
    provided providence provider providers provides providing province provinces provincial \
    provision provisions proxy prozac psychiatry psychological psychology public publication \
    publications publicity publicly publish published publisher publishers publishing pubmed pubs \
    puerto pull pulled pulling pulse pump pumps punch punishment punk pupils puppy purchase \
    purchased purchases purchasing pure purple purpose purposes purse pursuant pursue pursuit push \
    pushed pushing pussy puts putting puzzle puzzles python qatar quad qualification qualifications \
    qualified qualify qualifying qualities quality quantitative quantities quantity quantum quarter \
    quarterly quarters quebec queen queens queensland queries query quest question questionnaire \
    questions queue quick quickly quiet quilt quit quite quiz quizzes quotations quote quoted quotes \
    rabbit race races rachel racial racing rack racks radar radiation radical radio radios radius \
    rage raid rail railroad railway rain rainbow raise raised raises raising raleigh rally ralph \
    ranch rand random randy range ranger rangers ranges ranging rank ranked ranking rankings ranks \
    rape rapid rapidly rapids rare rarely rate rated rates rather rating ratings ratio rational \
    ratios rats raymond rays reach reached \
";

/// The TLDs without their dot (74; .com and .net repeat, which weights them), in the sample's order.
const TLDS: &str = "\
    com com com net net net ac ad at am az be biz bt by cc ch cm cn co com cx cz de dk ec eu gs hn \
    ht id in info it jp ki kr kz la li lk lv me mo mv mx name net nu org ph pk pl pro ps re ru sc sg \
    sh su tel tf tj tk tm top uz vn win ws wtf xyz yt \
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_periods, names};
    use time::macros::date;

    const V1_KEY: &str = "5245564149484f4c595548204d415620";
    const V2_SEED: &str = "3138C81ED54AD5F8E905555A6623C9C9";

    fn build(variant: &str, seed: &str) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variant(variant).unwrap().build)(&Spec {
            seed: Some(seed),
            config: None,
        })
    }

    #[test]
    fn v1_period_keys_are_exact() {
        let dga = build("v1", V1_KEY).unwrap();
        check_periods(
            dga.as_ref(),
            date!(2013 - 01 - 01),
            date!(2017 - 12 - 31),
            true,
        );
        // Two Saturdays with month + day = 26 share their names.
        assert_eq!(
            dga.period(date!(2018 - 02 - 24)),
            dga.period(date!(2018 - 08 - 18))
        );
        assert_eq!(
            names(dga.as_ref(), date!(2018 - 02 - 24)),
            names(dga.as_ref(), date!(2018 - 08 - 18))
        );
    }

    #[test]
    fn v1_names_have_the_documented_shape() {
        let dga = build("v1", V1_KEY).unwrap();
        let all = names(dga.as_ref(), date!(2016 - 11 - 30));
        assert_eq!(all.len(), V1_DOMAINS);
        for d in &all {
            let (label, tld) = d.split_once('.').unwrap();
            assert!((6..=11).contains(&label.len()), "{d}");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase()), "{d}");
            let want = match label.as_bytes()[label.len() - 2] {
                b'a'..=b'i' => "com",
                b'j'..=b'm' => "org",
                b'n'..=b'q' => "biz",
                b'r'..=b'u' => "net",
                _ => "info",
            };
            assert_eq!(tld, want, "{d}");
        }
    }

    #[test]
    fn v2_period_keys_are_exact_and_the_window_slides() {
        let dga = build("v2", V2_SEED).unwrap();
        check_periods(
            dga.as_ref(),
            date!(2017 - 06 - 01),
            date!(2019 - 06 - 30),
            true,
        );
        // Day D's second block of 64 is day D-1's first block (same year).
        let today = names(dga.as_ref(), date!(2018 - 04 - 29));
        let yesterday = names(dga.as_ref(), date!(2018 - 04 - 28));
        assert_eq!(today.len(), V2_WINDOW as usize * V2_PER_DAY);
        assert_eq!(today[V2_PER_DAY..], yesterday[..today.len() - V2_PER_DAY]);
        // Only the year's last two digits count.
        assert_eq!(
            names(dga.as_ref(), date!(1918 - 04 - 29)),
            names(dga.as_ref(), date!(2018 - 04 - 29))
        );
        assert_eq!(
            dga.period(date!(1918 - 04 - 29)),
            dga.period(date!(2018 - 04 - 29))
        );
    }

    #[test]
    fn v2_reused_blocks_give_the_names_of_a_fresh_generator() {
        // One generator walks forwards, backwards and jumps around (its
        // cache fills, evicts and hits); each date must match what a new
        // generator, with nothing cached, makes.
        let walker = build("v2", V2_SEED).unwrap();
        let mut dates = Vec::new();
        let mut d = date!(2019 - 12 - 20);
        while d <= date!(2020 - 01 - 15) {
            dates.push(d);
            d = d.next_day().unwrap();
        }
        let backwards: Vec<Date> = dates.iter().rev().copied().collect();
        dates.extend(backwards);
        dates.extend([
            date!(2016 - 11 - 30),
            date!(2020 - 01 - 03),
            date!(2016 - 11 - 29),
        ]);
        for d in dates {
            let fresh = build("v2", V2_SEED).unwrap();
            assert_eq!(names(walker.as_ref(), d), names(fresh.as_ref(), d), "{d}");
        }
    }

    #[test]
    fn v2_names_are_two_words_and_a_tld_from_the_lists() {
        let w = &*WORDS;
        assert_eq!(
            (w.first.len(), w.second.len(), w.tlds.len()),
            (2450, 4387, 74)
        );
        assert_eq!(
            (w.first[0], w.second[0], w.tlds[0], w.tlds[73]),
            ("reaches", "contamination", "com", "yt")
        );
        let dga = build("v2", V2_SEED).unwrap();
        for d in names(dga.as_ref(), date!(2016 - 11 - 30)) {
            let (host, tld) = d.rsplit_once('.').unwrap();
            assert!(w.tlds.contains(&tld), "{d}");
            let ok = w.first.iter().any(|f| {
                host.strip_prefix(f).is_some_and(|rest| {
                    let rest = rest.strip_prefix('-').unwrap_or(rest);
                    w.second.contains(&rest)
                })
            });
            assert!(ok, "{d}");
        }
    }

    #[test]
    fn v2_seed_case_matters() {
        let upper = build("v2", V2_SEED).unwrap();
        let lower = build("v2", &V2_SEED.to_ascii_lowercase()).unwrap();
        let d = date!(2018 - 04 - 29);
        assert_ne!(names(upper.as_ref(), d), names(lower.as_ref(), d));
        assert_eq!(upper.seed(), V2_SEED);
    }

    #[test]
    fn known_seeds_build_and_print_back() {
        for v in FAMILY.variants {
            for g in v.known_generators().unwrap() {
                assert_eq!(g.variant(), v.name);
                let again = build(v.name, &g.seed()).unwrap();
                let d = date!(2016 - 11 - 30);
                assert_eq!(names(g.as_ref(), d), names(again.as_ref(), d));
            }
        }
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "a".repeat(100_000);
        for bad in [
            "",
            "0x",
            "52455641",
            "5245564149484f4c594548204d41562",
            "5245564149484f4c595548204d4156200",
            "5245564149484f4c594548204d41562g",
            "+245564149484f4c594548204d415620",
            huge.as_str(),
        ] {
            assert!(
                matches!(build("v1", bad), Err(Error::BadSeed { .. })),
                "v1 {bad:.40} accepted"
            );
        }
        for bad in [
            "",
            "with space",
            "tab\there",
            "caf\u{e9}",
            "\u{0}",
            huge.as_str(),
        ] {
            assert!(
                matches!(build("v2", bad), Err(Error::BadSeed { .. })),
                "v2 {bad:.40} accepted"
            );
        }
        for v in FAMILY.variants {
            assert!(matches!(
                (v.build)(&Spec::default()),
                Err(Error::NeedsSeed(_))
            ));
            let cfg = serde_json::json!({"seed": "x"});
            assert!(matches!(
                (v.build)(&Spec {
                    seed: Some(V1_KEY),
                    config: Some(&cfg)
                }),
                Err(Error::BadConfig { .. })
            ));
        }
    }

    #[test]
    fn odd_keys_and_extreme_dates_do_not_panic() {
        // A key whose second word overflows on every date (the state word
        // then starts at 0), all-zero and all-one keys, the calendar's
        // ends.
        for key in [
            "00000000ffffffff0000000000000000",
            "00000000000000000000000000000000",
            "ffffffffffffffffffffffffffffffff",
        ] {
            let dga = build("v1", key).unwrap();
            for d in [Date::MIN, Date::MAX, date!(2016 - 02 - 29)] {
                assert_eq!(names(dga.as_ref(), d).len(), V1_DOMAINS);
            }
        }
        let dga = build("v2", "x").unwrap();
        for d in [Date::MIN, Date::MAX, date!(2016 - 01 - 01)] {
            assert_eq!(
                names(dga.as_ref(), d).len(),
                V2_WINDOW as usize * V2_PER_DAY
            );
        }
    }

    #[test]
    fn aliases_find_the_family() {
        for a in ["nymaim", "GozNym"] {
            assert_eq!(crate::family(a).unwrap().name, "nymaim");
        }
    }
}
