package demo

import (
	"math/rand/v2"
	"strings"
	"time"
)

// Name pools are common Filipino (largely Cebuano, as USC is in Cebu) given
// names and surnames. People are random pairings of the two pools, so no
// row is meant to describe a real person.
var (
	maleNames = []string{
		"Juan", "Jose", "Mark", "John Paul", "Jericho", "Rommel", "Christian",
		"Carlo", "Miguel", "Rafael", "Joshua", "Kenneth", "Renato", "Ariel",
		"Noel", "Jomar", "Dexter", "Paolo", "Vincent", "Emmanuel",
	}
	femaleNames = []string{
		"Maria", "Angelica", "Kristine", "Rhea", "Mylene", "Jasmine", "Camille",
		"Patricia", "Mary Grace", "Joy", "Rowena", "Catherine", "Princess",
		"Andrea", "Bea", "Liezl", "Marites", "Charmaine", "Nicole", "Ysabel",
	}
	surnames = []string{
		"Dela Cruz", "Santos", "Reyes", "Garcia", "Mendoza", "Bautista",
		"Villanueva", "Cabahug", "Alcantara", "Abellana", "Cuizon", "Ybañez",
		"Quijano", "Tan", "Lim", "Uy", "Sy", "Go", "Pepito", "Canete", "Rosales",
		"Sarmiento", "Navarro", "Aquino", "Lapitan", "Baguio", "Cabrera",
		"Dizon", "Fernandez", "Gonzaga", "Sanchez", "Tumulak", "Ramos", "Yap",
	}
	// emailFold turns display names into plausible mailbox parts.
	emailFold = strings.NewReplacer(" ", "", "ñ", "n", "Ñ", "n")
)

// person is one synthetic human: enough for a user row and its patient row.
type person struct {
	first, last, gender string
	joined              time.Time // account creation; zero for relatives
}

func randomPerson(r *rand.Rand) person {
	if r.IntN(2) == 0 {
		return person{first: pick(r, maleNames), last: pick(r, surnames), gender: "Male"}
	}
	return person{first: pick(r, femaleNames), last: pick(r, surnames), gender: "Female"}
}

// email makes a unique address: the id suffix avoids collisions between the
// many people who inevitably share a name.
func (p person) email(id int64) string {
	local := strings.ToLower(emailFold.Replace(p.first) + "." + emailFold.Replace(p.last))
	return local + "." + itoa(id) + "@usc.edu.ph"
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// Clinical vocabulary for the free-text columns.
var (
	complaints = []string{
		"Fever and body malaise for 2 days", "Dry cough and sore throat",
		"Headache since this morning", "Dysmenorrhea", "Abdominal pain after lunch",
		"Dizziness during PE class", "Itchy rashes on both arms", "Toothache, lower left",
		"Sprained ankle during basketball", "Loose bowel movement, 3 episodes",
		"Colds and sneezing", "Request for medical clearance",
	}
	diagnoses = []string{
		"Acute upper respiratory tract infection", "Tension-type headache",
		"Primary dysmenorrhea", "Acute gastroenteritis", "Allergic rhinitis",
		"Contact dermatitis", "Ankle sprain, grade I", "Hypertension, stage 1",
		"Viral syndrome, rule out dengue", "Fit for enrollment, no findings",
	}
	treatments = []string{
		"Paracetamol 500 mg every 4 hours as needed; increase oral fluids",
		"Mefenamic acid 500 mg; warm compress; rest in clinic for 30 minutes",
		"Oral rehydration salts; bland diet; return if symptoms persist",
		"Cetirizine 10 mg once daily for 5 days", "RICE protocol; elastic bandage applied",
		"Referred to University Hospital for CBC and platelet count",
		"Advised lifestyle modification; recheck BP in one week",
	}
	dentalNotes = []string{
		"Patient tolerated the procedure well.", "Advised to brush twice daily and floss.",
		"Recall after 6 months for prophylaxis.", "Mild gingival bleeding noted; oral hygiene instructions given.",
		"Referred for panoramic x-ray.",
	}
	dentalProcedures = []string{
		"Oral prophylaxis", "Tooth extraction", "Composite restoration",
		"Dental consultation", "Fluoride application", "Pit and fissure sealant",
	}
	toothStates = []string{"sound", "caries", "filled", "missing", "for extraction", "sealed"}
	allergyList = []string{"", "", "", "Penicillin", "Seafood", "Peanuts", "Dust mites", "Sulfa drugs", "NSAIDs"}
	bloodTypes  = []string{"O+", "O+", "A+", "B+", "AB+", "O-", "A-", "B-"}
	relations   = []string{"Mother", "Father", "Guardian", "Sibling", "Spouse"}
	certPurpose = []string{"Enrollment", "Sports participation", "OJT requirement", "Absence excuse", "Field trip"}
	certStatus  = []string{"draft", "pending", "approved", "approved", "issued", "rejected"}
	feedbackMsg = []string{
		"Very accommodating staff, salamat kaayo!", "Long queue but the nurse was kind.",
		"Quick consultation, clear instructions.", "Clinic was clean and well organized.",
		"Please add more chairs in the waiting area.", "Doctor explained everything well.",
	}
)
