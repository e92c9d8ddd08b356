package demo

// The word lists are deliberately small and fixed: they are part of the
// generator's output contract, so editing them changes every generated file.

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
	"David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
	"Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa",
	"Mark", "Sophie", "Lukas", "Emma", "Noah", "Mia", "Léa", "Hugo",
	"Lucía", "Mateo", "Sofía", "Santiago", "Valentina", "João", "Ana", "Yuki",
	"Haruto", "Aiko", "Wei", "Mei", "Arjun", "Priya", "Rahul", "Ananya",
	"Omar", "Layla", "Yusuf", "Fatima", "Amara", "Kwame", "Chidi", "Zanele",
	"Olga", "Björn", "Zoë", "Siobhan",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor",
	"Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
	"Clark", "Lewis", "Walker", "Young", "Müller", "Schmidt", "Schneider", "Dubois",
	"Moreau", "Rossi", "Russo", "Silva", "Santos", "Pereira", "Tanaka", "Suzuki",
	"Sato", "Kim", "Park", "Chen", "Wang", "Li", "Patel", "Sharma",
	"Singh", "Haddad", "Khalil", "Nasser", "Okafor", "Mensah", "Nkosi", "Kowalski",
	"Nowak", "Johansson", "O'Brien", "Van der Berg",
}

// asciiFold maps the non-ASCII letters used in the name lists so that email
// local parts stay plain ASCII, as most mail providers require.
var asciiFold = map[rune]string{
	'é': "e", 'í': "i", 'ã': "a", 'ö': "o", 'ü': "u", 'ë': "e",
}

var emailDomains = []string{
	"example.com", "example.net", "example.org",
	"mail.example.com", "inbox.example.net", "post.example.org",
}

var streetNames = []string{
	"Oak", "Maple", "Cedar", "Elm", "Park", "Lake", "Hill", "Station",
	"Church", "Market", "Mill", "River", "King", "Queen", "Victoria", "Harbor",
	"Sunset", "Rose", "Willow", "Birch", "Spring", "Meadow", "Bridge", "Garden",
	"Forest", "Chestnut", "Highland", "North", "Mountain", "Ocean",
}

var streetSuffixes = []string{
	"Street", "Avenue", "Road", "Lane", "Drive", "Boulevard", "Way", "Court", "Place",
}

type country struct {
	name     string
	dial     string
	postcode string // pattern: 9 = digit, A = letter, anything else literal; empty = no postcodes
	weight   int
	cities   []string
}

type region struct {
	name      string
	weight    int
	countries []country
}

var regions = []region{
	{"North America", 35, []country{
		{"United States", "1", "99999", 8, []string{"New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Austin", "Boston", "Denver"}},
		{"Canada", "1", "A9A 9A9", 2, []string{"Toronto", "Vancouver", "Montreal", "Calgary", "Ottawa"}},
	}},
	{"Europe", 30, []country{
		{"Germany", "49", "99999", 5, []string{"Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt"}},
		{"United Kingdom", "44", "AA9 9AA", 5, []string{"London", "Manchester", "Birmingham", "Leeds", "Edinburgh"}},
		{"France", "33", "99999", 4, []string{"Paris", "Lyon", "Marseille", "Toulouse", "Lille"}},
		{"Spain", "34", "99999", 3, []string{"Madrid", "Barcelona", "Valencia", "Seville"}},
		{"Italy", "39", "99999", 3, []string{"Rome", "Milan", "Naples", "Turin"}},
		{"Netherlands", "31", "9999 AA", 2, []string{"Amsterdam", "Rotterdam", "Utrecht"}},
		{"Sweden", "46", "999 99", 1, []string{"Stockholm", "Gothenburg", "Malmö"}},
		{"Poland", "48", "99-999", 2, []string{"Warsaw", "Kraków", "Wrocław"}},
	}},
	{"APAC", 18, []country{
		{"Japan", "81", "999-9999", 4, []string{"Tokyo", "Osaka", "Yokohama", "Nagoya"}},
		{"Australia", "61", "9999", 3, []string{"Sydney", "Melbourne", "Brisbane", "Perth"}},
		{"India", "91", "999999", 4, []string{"Mumbai", "Delhi", "Bengaluru", "Chennai", "Hyderabad"}},
		{"Singapore", "65", "999999", 1, []string{"Singapore"}},
		{"South Korea", "82", "99999", 2, []string{"Seoul", "Busan", "Incheon"}},
	}},
	{"LATAM", 9, []country{
		{"Brazil", "55", "99999-999", 4, []string{"São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"}},
		{"Mexico", "52", "99999", 3, []string{"Mexico City", "Guadalajara", "Monterrey", "Puebla"}},
		{"Argentina", "54", "A9999AAA", 1, []string{"Buenos Aires", "Córdoba", "Rosario"}},
		{"Chile", "56", "9999999", 1, []string{"Santiago", "Valparaíso"}},
		{"Colombia", "57", "999999", 1, []string{"Bogotá", "Medellín", "Cali"}},
	}},
	{"Middle East", 5, []country{
		{"United Arab Emirates", "971", "", 3, []string{"Dubai", "Abu Dhabi", "Sharjah"}},
		{"Saudi Arabia", "966", "99999", 2, []string{"Riyadh", "Jeddah", "Dammam"}},
		{"Israel", "972", "9999999", 1, []string{"Tel Aviv", "Jerusalem", "Haifa"}},
		{"Turkey", "90", "99999", 2, []string{"Istanbul", "Ankara", "Izmir"}},
		{"Qatar", "974", "", 1, []string{"Doha"}},
	}},
	{"Africa", 3, []country{
		{"South Africa", "27", "9999", 3, []string{"Johannesburg", "Cape Town", "Durban", "Pretoria"}},
		{"Nigeria", "234", "999999", 2, []string{"Lagos", "Abuja", "Ibadan"}},
		{"Kenya", "254", "99999", 1, []string{"Nairobi", "Mombasa"}},
		{"Egypt", "20", "99999", 1, []string{"Cairo", "Alexandria", "Giza"}},
		{"Morocco", "212", "99999", 1, []string{"Casablanca", "Rabat", "Marrakesh"}},
	}},
}

type category struct {
	name     string
	code     string
	weight   int
	minCents int
	maxCents int
	brands   []string
	nouns    []string
}

var categories = []category{
	{"Electronics", "ELE", 5, 1500, 129900,
		[]string{"Voltix", "Northwind Audio", "Lumina", "Kestrel"},
		[]string{"Wireless Headphones", "Bluetooth Speaker", "USB-C Charger", "Smartwatch", "Mechanical Keyboard", "Webcam", "Power Bank", "Noise-Cancelling Earbuds", "4K Monitor", "Portable SSD"}},
	{"Home & Kitchen", "HOM", 4, 900, 34900,
		[]string{"Hearthstone", "Copperleaf", "Nestwell"},
		[]string{"Chef's Knife", "Cast Iron Skillet", "Pour-Over Coffee Maker", "Blender", "Linen Duvet Cover", "Ceramic Mug Set", "Air Fryer", "Bath Towel Set"}},
	{"Apparel", "APP", 4, 1200, 24900,
		[]string{"Tidewater", "Fjell", "Urban Thread"},
		[]string{"Merino T-Shirt", "Rain Jacket", "Slim Chinos", "Hoodie", "Wool Socks 3-Pack", "Denim Jacket", "Running Shorts"}},
	{"Sports & Outdoors", "SPT", 3, 1500, 39900,
		[]string{"Summit Gear", "Trailhead", "Pacer"},
		[]string{"Yoga Mat", "Trail Running Shoes", "Insulated Water Bottle", "Camping Tent", "Resistance Bands", "Daypack 25L", "Cycling Helmet"}},
	{"Beauty", "BTY", 3, 600, 8900,
		[]string{"Lumière", "Bloom & Co", "Purely"},
		[]string{"Vitamin C Serum", "Moisturizing Cream", "Shampoo Bar", "Lip Balm Set", "Sunscreen SPF 50", "Beard Oil"}},
	{"Books", "BOK", 2, 799, 5999,
		[]string{"Pinecone Press", "Lantern Books"},
		[]string{"Cookbook", "Travel Guide", "Mystery Novel", "Data Engineering Handbook", "Children's Picture Book", "Science Fiction Anthology"}},
	{"Toys & Games", "TOY", 2, 999, 14999,
		[]string{"Brightblock", "Puzzleworks"},
		[]string{"Building Blocks Set", "1000-Piece Puzzle", "Board Game", "Plush Bear", "Remote Control Car"}},
	{"Grocery", "GRO", 2, 399, 4999,
		[]string{"Harvest Lane", "Roastery 41"},
		[]string{"Whole Bean Coffee 1kg", "Green Tea Sampler", "Dark Chocolate Bar", "Extra Virgin Olive Oil", "Granola"}},
}

// editions tell apart products that share brand and noun; the key is the
// category code, and empty strings make the plain name the common case.
var editions = map[string][]string{
	"ELE": {"", "", " Pro", " Lite", " Max", " (Black)", " (White)", " 2nd Gen"},
	"HOM": {"", "", " Pro", " Classic", " (Black)", " (White)"},
	"APP": {"", " (Black)", " (Navy)", " (Olive)", " (Grey)"},
	"SPT": {"", "", " Pro", " Lite", " (Black)", " (Blue)"},
	"BTY": {"", "", " Travel Size", " Sensitive"},
	"BOK": {"", " (Hardcover)", " (Paperback)", " 2nd Edition"},
	"TOY": {"", "", " Deluxe", " Junior"},
	"GRO": {"", "", " Organic", " Family Pack"},
}

var paymentMethods = []string{"card", "paypal", "apple_pay", "google_pay", "bank_transfer", "gift_card"}
var paymentWeights = []int{55, 20, 10, 7, 5, 3}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
var userAgentWeights = []int{24, 14, 26, 16, 8, 5, 3, 4}

var referrers = []string{"direct", "google", "newsletter", "instagram", "affiliate", "bing"}
var referrerWeights = []int{30, 35, 12, 10, 8, 5}

// searchTypos are queries shoppers really type; they keep the search
// analysis from looking suspiciously clean.
var searchTypos = []string{"hedphones", "yoga matt", "coffe", "sunscren", "kitchen knive", "bluetooth speeker", "birthday gift", "sale"}
