"""Browser pages of leads: booking the appointment, its invitation, the panel on the inquiry."""
