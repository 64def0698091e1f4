"""Stripe gateway and refunds through it: an intent's gateway payment id (pi_...), a payment event's unique gateway event id, a refund's gateway state

Revision ID: b7e2c9d4a615
Revises: 7c15a9e3b2d4
Create Date: 2026-12-04 22:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e2c9d4a615'
down_revision = '7c15a9e3b2d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gateway_payment_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payment_intent_gateway_payment_id'), ['gateway_payment_id'])
    with op.batch_alter_table('payment_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gateway_event_id', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payment_event_gateway_event_id'), ['gateway_event_id'])


    with op.batch_alter_table('refund_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gateway_status', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('gateway_refund_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('issued_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('issued_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_refund_request_gateway_refund_id'), ['gateway_refund_id'])
        batch_op.create_foreign_key(batch_op.f('fk_refund_request_issued_by_id_user_account'), 'user_account',
                                    ['issued_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('refund_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_refund_request_issued_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_refund_request_gateway_refund_id'), type_='unique')
        batch_op.drop_column('issued_at')
        batch_op.drop_column('issued_by_id')
        batch_op.drop_column('gateway_refund_id')
        batch_op.drop_column('gateway_status')
    with op.batch_alter_table('payment_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payment_event_gateway_event_id'), type_='unique')
        batch_op.drop_column('gateway_event_id')
    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payment_intent_gateway_payment_id'), type_='unique')
        batch_op.drop_column('gateway_payment_id')
