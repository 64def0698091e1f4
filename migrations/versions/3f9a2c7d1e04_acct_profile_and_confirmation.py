"""accounts: an address customers edit, registration confirmed by email, the email-change count on the account

Revision ID: 3f9a2c7d1e04
Revises: c0a1b2d3e4f5
Create Date: 2026-12-04 21:30:00

The email-change count is filled from the audit trail once, here: from now on it lives on the
account, so pruning audit events can no longer revive a spent email-change link.
"""
import sqlalchemy as sa
from alembic import op

revision = '3f9a2c7d1e04'
down_revision = 'c0a1b2d3e4f5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('email_confirmation_pending', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('email_change_count', sa.Integer(), server_default='0', nullable=False))
    op.execute("""
        UPDATE user_account SET email_change_count = (
            SELECT count(*) FROM audit_event a
            WHERE a.action = 'account.email_changed' AND a.target_type = 'User'
              AND a.target_id = CAST(user_account.id AS VARCHAR(40)))
    """)


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email_change_count')
        batch_op.drop_column('email_confirmation_pending')
        batch_op.drop_column('address')
