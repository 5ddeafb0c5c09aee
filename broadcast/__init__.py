"""Announcements from central staff to volunteers and coordinators (the broadcast issue)."""
