package demo

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
)

// Clinician user ids are 1..clinicians: id 1 is the ADMIN and the rest cycle
// through clinicRoles. Patient k (1-based) owns user id clinicians+k.
var clinicRoles = []string{"STAFF", "DOCTOR", "DOCTOR", "NURSE", "NURSE", "DENTIST"}

func (p plan) role(userID int64) string {
	switch {
	case userID == 1:
		return "ADMIN"
	case userID <= p.clinicians:
		return clinicRoles[(userID-2)%int64(len(clinicRoles))]
	case (userID-p.clinicians)%10 == 0:
		return "FACULTY" // faculty and employees are patients too
	default:
		return "STUDENT"
	}
}

// clinician picks a random staff member with the given role; ids 2..7 cover
// every role, so the loop always terminates quickly.
func (p plan) clinician(r *rand.Rand, role string) int64 {
	for {
		if id := 2 + r.Int64N(p.clinicians-1); p.role(id) == role {
			return id
		}
	}
}

// personFor derives a user's identity and join date from its id alone, so
// the patient and certificate loaders can recover them without shared state.
func (p plan) personFor(userID int64) person {
	r := rand.New(rand.NewPCG(p.seed, 1<<40|uint64(userID)))
	who := randomPerson(r)
	who.joined = ago(r, 4*365)
	return who
}

func (p plan) userRows() loader {
	return loader{
		table: "authentication_user",
		columns: []string{"id", "password", "last_login", "email", "first_name", "last_name",
			"role", "is_active", "date_joined", "profile_picture"},
		n: p.users,
		row: func(r *rand.Rand, id int64) []any {
			who := p.personFor(id)
			var lastLogin, picture any
			if r.IntN(4) != 0 {
				lastLogin = since(r, who.joined)
			}
			if id%5 == 1 { // every fifth user uploaded a picture
				picture = profilePictures[(id/5)%int64(len(profilePictures))]
			}
			return []any{id, fakePasswordHash(r), lastLogin, who.email(id), who.first, who.last,
				p.role(id), r.IntN(50) != 0, who.joined, picture}
		},
	}
}

// fakePasswordHash has the shape of Django's PBKDF2 hasher output without
// the cost of really hashing 200k passwords.
func fakePasswordHash(r *rand.Rand) string {
	var salt [16]byte
	var sum [32]byte
	for i := range salt {
		salt[i] = byte(r.Uint32())
	}
	for i := range sum {
		sum[i] = byte(r.Uint32())
	}
	return "pbkdf2_sha256$870000$" + base64.RawStdEncoding.EncodeToString(salt[:]) +
		"$" + base64.StdEncoding.EncodeToString(sum[:])
}

func (p plan) patientRows() loader {
	return loader{
		table: "patients_patient",
		columns: []string{"id", "user_id", "student_id", "date_of_birth", "gender", "blood_type",
			"allergies", "emergency_contact", "created_at", "updated_at"},
		n: p.patients,
		row: func(r *rand.Rand, id int64) []any {
			userID := p.clinicians + id
			who := p.personFor(userID)
			var studentID, bloodType any
			age := 17 + r.IntN(8)
			if p.role(userID) == "STUDENT" {
				// USC-style 8-digit id: two-digit entry year then a sequence.
				studentID = fmt.Sprintf("%02d%06d", 18+r.IntN(8), id%1000000)
			} else {
				age = 25 + r.IntN(40)
			}
			if r.IntN(5) != 0 {
				bloodType = pick(r, bloodTypes)
			}
			dob := day(epoch.AddDate(-age, 0, -r.IntN(365)))
			kin := randomPerson(r)
			contact := fmt.Sprintf(`{"name": %q, "relationship": %q, "phone": "+63 9%02d %03d %04d"}`,
				kin.first+" "+who.last, pick(r, relations), 10+r.IntN(90), r.IntN(1000), r.IntN(10000))
			// The patient profile is filled in after the account exists.
			created := since(r, who.joined)
			updated := since(r, created)
			return []any{id, userID, studentID, dob, who.gender, bloodType,
				pick(r, allergyList), contact, created, updated}
		},
	}
}
